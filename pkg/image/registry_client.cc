#include "pkg/image/registry_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "pkg/base/status_macros.h"
#include "pkg/image/curl_api.h"
#include "pkg/image/manifest.h"

namespace ocid {
namespace registry_client_internal {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  // The Authorization value; dropped when a redirect leaves the origin, so
  // the registry's credentials never reach a storage backend.
  std::string authorization;
  std::string form;  // POST body, application/x-www-form-urlencoded
  bool follow_redirects = false;
};

struct HttpResponse {
  long status = 0;  // of the last response; 0 when none came
  CURLcode transport = CURLE_OK;
  std::string transport_error;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string error_body;                                    // the start of a non-2xx body
  std::string redirect_url;                                  // absolute, for a 3xx

  bool ok() const { return transport == CURLE_OK && status >= 200 && status < 300; }

  std::string Header(absl::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (key == name) return value;
    }
    return "";
  }
};

// Gets the body of a 2xx response, never that of an error or redirect. An
// error from either function aborts the transfer and is what Exchange
// returns.
struct BodyHandler {
  std::function<absl::Status(const HttpResponse&)> on_start;  // optional
  std::function<absl::Status(absl::string_view)> on_data;
};

}  // namespace registry_client_internal

namespace {

using registry_client_internal::BodyHandler;
using registry_client_internal::HttpRequest;
using registry_client_internal::HttpResponse;
using Json = nlohmann::json;

constexpr size_t kMaxErrorBodyBytes = 64 << 10;
constexpr size_t kMaxTokenBodyBytes = 1 << 20;
constexpr int kMaxRedirects = 5;
constexpr absl::Duration kDefaultTokenLifetime = absl::Seconds(60);

std::string ManifestAccept() {
  return absl::StrCat("Accept: ", kMediaTypeOciManifest, ", ", kMediaTypeOciIndex, ", ",
                      kMediaTypeDockerManifest, ", ", kMediaTypeDockerManifestList);
}

// ---- libcurl ----

struct CurlEasyDeleter {
  const CurlApi* api;
  void operator()(CURL* curl) const { api->easy_cleanup(curl); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

class CurlHeaders {
 public:
  explicit CurlHeaders(const CurlApi& api) : api_(api) {}
  CurlHeaders(const CurlHeaders&) = delete;
  CurlHeaders& operator=(const CurlHeaders&) = delete;
  ~CurlHeaders() { api_.slist_free_all(list_); }

  absl::Status Append(const std::string& header) {
    curl_slist* list = api_.slist_append(list_, header.c_str());
    if (list == nullptr) return absl::ResourceExhaustedError("curl_slist_append failed");
    list_ = list;
    return absl::OkStatus();
  }
  curl_slist* get() const { return list_; }

 private:
  const CurlApi& api_;
  curl_slist* list_ = nullptr;
};

// State shared with the curl callbacks of one transfer.
struct Transfer {
  const CurlApi* api;
  CURL* curl;
  const BodyHandler* body;
  HttpResponse* response;
  bool started = false;
  bool success = false;
  absl::Status abort;  // why a callback stopped the transfer
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  absl::string_view line(data, size * count);
  // A new status line starts a new response (after a 100 Continue, say).
  if (absl::StartsWith(line, "HTTP/")) transfer->response->headers.clear();
  size_t colon = line.find(':');
  if (colon != absl::string_view::npos) {
    transfer->response->headers.emplace_back(
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, colon))),
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  }
  return line.size();
}

size_t OnWrite(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  absl::string_view chunk(data, size * count);
  HttpResponse& response = *transfer->response;
  if (!transfer->started) {
    transfer->started = true;
    transfer->api->easy_getinfo(transfer->curl, CURLINFO_RESPONSE_CODE, &response.status);
    transfer->success = response.status >= 200 && response.status < 300;
    if (transfer->success && transfer->body->on_start) {
      transfer->abort = transfer->body->on_start(response);
      if (!transfer->abort.ok()) return 0;
    }
  }
  if (!transfer->success) {
    size_t room = kMaxErrorBodyBytes - std::min(kMaxErrorBodyBytes, response.error_body.size());
    absl::StrAppend(&response.error_body, chunk.substr(0, room));
    return chunk.size();
  }
  transfer->abort = transfer->body->on_data(chunk);
  return transfer->abort.ok() ? chunk.size() : 0;
}

absl::Status SetOptions(const CurlApi& api, CURL* curl, const RegistryClientOptions& options,
                        const HttpRequest& request, const CurlHeaders& headers, Transfer& transfer,
                        char* error_buffer) {
  api.easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  if (api.easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK) {
    return absl::InternalError("libcurl refuses CURLOPT_PROTOCOLS_STR");
  }
  api.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  api.easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  api.easy_setopt(curl, CURLOPT_USERAGENT, options.user_agent.c_str());
  api.easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  api.easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                  static_cast<long>(absl::ToInt64Milliseconds(options.connect_timeout)));
  api.easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT,
                  static_cast<long>(options.low_speed_bytes_per_second));
  api.easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                  static_cast<long>(absl::ToInt64Seconds(options.low_speed_time)));
  api.easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  api.easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  api.easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnWrite);
  api.easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  if (request.method == "POST") {
    api.easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.form.size()));
    api.easy_setopt(curl, CURLOPT_POSTFIELDS, request.form.c_str());
  }
  return absl::OkStatus();
}

// One HTTP exchange, redirects not followed. Transport failures are in the
// response; the error is only for local failures and aborts by `body`.
absl::StatusOr<HttpResponse> Exchange(const RegistryClientOptions& options,
                                      const HttpRequest& request, const BodyHandler& body) {
  ASSIGN_OR_RETURN(const CurlApi* api, LoadCurl());
  CurlEasy curl(api->easy_init(), CurlEasyDeleter{api});
  if (curl == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed");
  CurlHeaders headers(*api);
  for (const std::string& header : request.headers) RETURN_IF_ERROR(headers.Append(header));
  if (!request.authorization.empty()) {
    RETURN_IF_ERROR(headers.Append("Authorization: " + request.authorization));
  }
  if (request.method == "POST") {
    RETURN_IF_ERROR(headers.Append("Content-Type: application/x-www-form-urlencoded"));
  }
  HttpResponse response;
  Transfer transfer{api, curl.get(), &body, &response};
  char error_buffer[CURL_ERROR_SIZE] = "";
  RETURN_IF_ERROR(SetOptions(*api, curl.get(), options, request, headers, transfer, error_buffer));
  CURLcode code = api->easy_perform(curl.get());
  if (!transfer.abort.ok()) return transfer.abort;
  api->easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &response.status);
  if (code != CURLE_OK) {
    response.transport = code;
    response.transport_error = error_buffer[0] != '\0' ? error_buffer : api->easy_strerror(code);
  }
  char* redirect = nullptr;
  if (api->easy_getinfo(curl.get(), CURLINFO_REDIRECT_URL, &redirect) == CURLE_OK &&
      redirect != nullptr) {
    response.redirect_url = redirect;
  }
  return response;
}

// ---- redirects, retries ----

// "scheme://host:port" of an absolute URL, lowercased.
std::string Origin(absl::string_view url) {
  size_t start = url.find("://");
  start = start == absl::string_view::npos ? 0 : start + 3;
  return absl::AsciiStrToLower(url.substr(0, url.find('/', start)));
}

bool IsRedirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

absl::StatusOr<HttpResponse> SendFollowingRedirects(const RegistryClientOptions& options,
                                                    HttpRequest request, const BodyHandler& body) {
  for (int hops = 0;; ++hops) {
    ASSIGN_OR_RETURN(HttpResponse response, Exchange(options, request, body));
    if (!request.follow_redirects || response.transport != CURLE_OK ||
        !IsRedirect(response.status) || response.redirect_url.empty()) {
      return response;
    }
    if (hops == kMaxRedirects) {
      return absl::FailedPreconditionError(
          absl::StrCat("more than ", kMaxRedirects, " redirects from ", request.url));
    }
    const std::string& next = response.redirect_url;
    if (!absl::StartsWithIgnoreCase(next, "https://") &&
        !absl::StartsWithIgnoreCase(next, "http://")) {
      return absl::FailedPreconditionError(absl::StrCat("redirect to unsupported URL ", next));
    }
    if (Origin(next) != Origin(request.url)) request.authorization.clear();
    request.url = next;
  }
}

bool IsTransient(const HttpResponse& response) {
  switch (response.transport) {
    case CURLE_OK:
      return response.status == 408 || response.status == 429 || response.status >= 500;
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

// Runs `attempt` until it succeeds, fails for good, or max_retries retries
// have failed; waits backoff_base * 2^n before retry n.
absl::StatusOr<HttpResponse> WithRetries(
    const RegistryClientOptions& options,
    const std::function<absl::StatusOr<HttpResponse>()>& attempt) {
  for (int n = 0;; ++n) {
    ASSIGN_OR_RETURN(HttpResponse response, attempt());
    if (n >= options.max_retries || !IsTransient(response)) return response;
    options.sleep(options.backoff_base * (int64_t{1} << std::min(n, 20)));
  }
}

// ---- parsing ----

// "CODE: message; CODE: message" from a registry error body
// ({"errors": [{"code": ..., "message": ...}]}), or "".
std::string RegistryErrors(absl::string_view body) {
  Json json = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return "";
  auto errors = json.find("errors");
  if (errors == json.end() || !errors->is_array()) return "";
  std::vector<std::string> parts;
  for (const Json& error : *errors) {
    if (!error.is_object()) continue;
    std::string code, message;
    auto it = error.find("code");
    if (it != error.end() && it->is_string()) code = it->get<std::string>();
    it = error.find("message");
    if (it != error.end() && it->is_string()) message = it->get<std::string>();
    if (code.empty() || message.empty()) {
      parts.push_back(code + message);
    } else {
      parts.push_back(absl::StrCat(code, ": ", message));
    }
  }
  return absl::StrJoin(parts, "; ");
}

// ": <registry errors>" of an error response, or "".
std::string Detail(const HttpResponse& response) {
  std::string errors = RegistryErrors(response.error_body);
  return errors.empty() ? "" : ": " + errors;
}

int64_t ContentLength(const HttpResponse& response) {
  int64_t length = -1;
  if (!absl::SimpleAtoi(response.Header("content-length"), &length)) return -1;
  return length;
}

std::string UrlEscape(absl::string_view text) {
  std::string out;
  for (char ch : text) {
    if (absl::ascii_isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      out += ch;
    } else {
      absl::StrAppend(&out, "%", absl::AsciiStrToUpper(absl::BytesToHexString({&ch, 1})));
    }
  }
  return out;
}

// Repository names as the distribution spec allows them: lowercase
// components of [a-z0-9] separated by [._-], joined by "/".
absl::Status ValidateRepository(absl::string_view repository) {
  auto invalid = [&] {
    return absl::InvalidArgumentError(absl::StrCat("invalid repository name \"", repository, "\""));
  };
  if (repository.empty() || repository.size() > 255) return invalid();
  for (absl::string_view component : absl::StrSplit(repository, '/')) {
    if (component.empty() || !absl::ascii_isalnum(component.front()) ||
        !absl::ascii_isalnum(component.back())) {
      return invalid();
    }
    for (char ch : component) {
      bool allowed =
          absl::ascii_isdigit(ch) || absl::ascii_islower(ch) || ch == '.' || ch == '_' || ch == '-';
      if (!allowed) return invalid();
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateTag(absl::string_view tag) {
  bool valid = !tag.empty() && tag.size() <= 128 && tag.front() != '.' && tag.front() != '-';
  for (char ch : tag) {
    valid = valid && (absl::ascii_isalnum(ch) || ch == '_' || ch == '.' || ch == '-');
  }
  if (!valid) return absl::InvalidArgumentError(absl::StrCat("invalid tag \"", tag, "\""));
  return absl::OkStatus();
}

}  // namespace

namespace {

// The challenges of a WWW-Authenticate header: lowercased scheme, params.
using Challenge = std::pair<std::string, std::map<std::string, std::string>>;
using Challenges = std::vector<Challenge>;

// Reads a token or a quoted string at `at`, advancing it.
std::string ReadValue(absl::string_view text, size_t& at) {
  std::string value;
  if (at < text.size() && text[at] == '"') {
    for (++at; at < text.size() && text[at] != '"'; ++at) {
      if (text[at] == '\\' && at + 1 < text.size()) ++at;
      value += text[at];
    }
    ++at;  // the closing quote
    return value;
  }
  while (at < text.size() && text[at] != ',' && text[at] != ' ' && text[at] != '\t') {
    value += text[at++];
  }
  return value;
}

// Parses `Scheme k=v, k="v", Scheme2 ...` (RFC 7235 challenges).
Challenges ParseChallenges(absl::string_view header) {
  Challenges challenges;
  size_t at = 0;
  while (at < header.size()) {
    char ch = header[at];
    if (ch == ' ' || ch == '\t' || ch == ',' || ch == '=') {
      ++at;
      continue;
    }
    size_t end = header.find_first_of(" \t,=", at);
    if (end == absl::string_view::npos) end = header.size();
    std::string name = absl::AsciiStrToLower(header.substr(at, end - at));
    at = end;
    while (at < header.size() && (header[at] == ' ' || header[at] == '\t')) ++at;
    if (at < header.size() && header[at] == '=') {
      ++at;
      while (at < header.size() && (header[at] == ' ' || header[at] == '\t')) ++at;
      std::string value = ReadValue(header, at);
      if (!challenges.empty()) challenges.back().second[name] = value;
    } else {
      challenges.push_back({name, {}});
    }
  }
  return challenges;
}

// Bearer if offered, else Basic; nullptr for neither.
const Challenge* ChooseChallenge(const Challenges& challenges) {
  const Challenge* chosen = nullptr;
  for (const Challenge& challenge : challenges) {
    if (challenge.first == "bearer") return &challenge;
    if (challenge.first == "basic" && chosen == nullptr) chosen = &challenge;
  }
  return chosen;
}

}  // namespace

RegistryClient::RegistryClient(RegistryEndpoint endpoint, RegistryAuth auth,
                               RegistryClientOptions options)
    : endpoint_(std::move(endpoint)), auth_(std::move(auth)), options_(std::move(options)) {}

std::string RegistryClient::BaseUrl() const {
  return absl::StrCat(endpoint_.insecure ? "http://" : "https://", endpoint_.host);
}

std::string RegistryClient::BasicAuthorization() const {
  return "Basic " + absl::Base64Escape(absl::StrCat(auth_.username, ":", auth_.password));
}

std::string RegistryClient::CachedAuthorization(const std::string& scope) {
  if (!auth_.registry_token.empty()) return "Bearer " + auth_.registry_token;
  absl::MutexLock lock(&mu_);
  if (uses_basic_) return BasicAuthorization();
  if (bearer_realm_.empty()) return "";
  auto it = tokens_.find(TokenKey(bearer_realm_, bearer_service_, scope));
  if (it == tokens_.end() || options_.now() >= it->second.expires) return "";
  return "Bearer " + it->second.token;
}

absl::StatusOr<std::string> RegistryClient::Authorize(
    const std::string& scheme, const std::map<std::string, std::string>& params,
    const std::string& scope, const std::string& what) {
  if (scheme == "basic") {
    if (auth_.username.empty() && auth_.password.empty()) {
      return absl::UnauthenticatedError(absl::StrCat("registry ", endpoint_.host, " requires ",
                                                     "credentials for ", what, "; none are set"));
    }
    absl::MutexLock lock(&mu_);
    uses_basic_ = true;
    return BasicAuthorization();
  }
  if (!auth_.registry_token.empty()) return "Bearer " + auth_.registry_token;
  auto realm = params.find("realm");
  if (realm == params.end() || realm->second.empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat("registry ", endpoint_.host, " sent a bearer challenge without a realm"));
  }
  auto service = params.find("service");
  std::string service_name = service == params.end() ? "" : service->second;
  // Ping has no repository: then the challenge's own scope, if any.
  auto challenge_scope = params.find("scope");
  std::string token_scope =
      !scope.empty() || challenge_scope == params.end() ? scope : challenge_scope->second;
  ASSIGN_OR_RETURN(CachedToken token, FetchToken(realm->second, service_name, token_scope, what));
  absl::MutexLock lock(&mu_);
  bearer_realm_ = realm->second;
  bearer_service_ = service_name;
  tokens_[TokenKey(realm->second, service_name, token_scope)] = token;
  return "Bearer " + token.token;
}

RegistryClient::HttpRequest RegistryClient::TokenRequest(const std::string& realm,
                                                         const std::string& service,
                                                         const std::string& scope) const {
  HttpRequest request;
  request.url = realm;
  if (!auth_.identity_token.empty()) {
    // OAuth2 refresh-token grant (distribution's spec/auth/oauth).
    request.method = "POST";
    request.form =
        absl::StrCat("grant_type=refresh_token&client_id=ocid&service=", UrlEscape(service),
                     "&refresh_token=", UrlEscape(auth_.identity_token));
    if (!scope.empty()) absl::StrAppend(&request.form, "&scope=", UrlEscape(scope));
    return request;
  }
  std::vector<std::string> query;
  if (!service.empty()) query.push_back("service=" + UrlEscape(service));
  if (!scope.empty()) query.push_back("scope=" + UrlEscape(scope));
  if (!query.empty()) {
    absl::StrAppend(&request.url, absl::StrContains(realm, '?') ? "&" : "?",
                    absl::StrJoin(query, "&"));
  }
  if (!auth_.username.empty() || !auth_.password.empty()) {
    request.authorization = BasicAuthorization();
  }
  request.follow_redirects = true;
  return request;
}

namespace {

// {"token": ..., "access_token": ..., "expires_in": seconds}
absl::StatusOr<std::pair<std::string, absl::Duration>> ParseTokenResponse(absl::string_view body) {
  Json json = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return absl::UnauthenticatedError("its answer is not a JSON object");
  std::string token;
  for (const char* key : {"token", "access_token"}) {
    auto it = json.find(key);
    if (token.empty() && it != json.end() && it->is_string()) token = it->get<std::string>();
  }
  if (token.empty()) return absl::UnauthenticatedError("its answer has no token");
  absl::Duration lifetime = kDefaultTokenLifetime;
  auto expires_in = json.find("expires_in");
  if (expires_in != json.end() && expires_in->is_number_integer()) {
    int64_t seconds = expires_in->get<int64_t>();
    // The spec's minimum; shorter answers are treated as 60 s like Docker does.
    lifetime = std::max(absl::Seconds(std::min<int64_t>(seconds, 1 << 30)), kDefaultTokenLifetime);
  }
  return std::make_pair(token, lifetime);
}

}  // namespace

absl::StatusOr<RegistryClient::CachedToken> RegistryClient::FetchToken(const std::string& realm,
                                                                       const std::string& service,
                                                                       const std::string& scope,
                                                                       const std::string& what) {
  if (!absl::StartsWithIgnoreCase(realm, "https://") &&
      !absl::StartsWithIgnoreCase(realm, "http://")) {
    return absl::UnauthenticatedError(absl::StrCat(
        "registry ", endpoint_.host, " names an unusable token realm \"", realm, "\""));
  }
  HttpRequest request = TokenRequest(realm, service, scope);
  std::string body;
  BodyHandler handler;
  handler.on_data = [&body](absl::string_view chunk) {
    if (body.size() + chunk.size() > kMaxTokenBodyBytes) {
      return absl::UnauthenticatedError("token server answer larger than 1 MiB");
    }
    body.append(chunk.data(), chunk.size());
    return absl::OkStatus();
  };
  ASSIGN_OR_RETURN(HttpResponse response, WithRetries(options_, [&] {
                     body.clear();
                     return SendFollowingRedirects(options_, request, handler);
                   }));
  if (response.transport == CURLE_OK && (response.status == 401 || response.status == 403)) {
    return absl::UnauthenticatedError(absl::StrCat(
        "token server ", realm, " of registry ", endpoint_.host, " refused ", CredentialsName(),
        " for ", what, " (HTTP ", response.status, ")", Detail(response)));
  }
  if (!response.ok()) {
    absl::Status error = Error(response, what);
    return absl::Status(error.code(), absl::StrCat("token server ", realm, ": ", error.message()));
  }
  absl::StatusOr<std::pair<std::string, absl::Duration>> token = ParseTokenResponse(body);
  if (!token.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("token server ", realm, " for ", what, ": ", token.status().message()));
  }
  return CachedToken{token->first, options_.now() + token->second};
}

absl::StatusOr<HttpResponse> RegistryClient::Send(HttpRequest request, const std::string& scope,
                                                  const std::string& what,
                                                  const BodyHandler& body) {
  request.authorization = CachedAuthorization(scope);
  ASSIGN_OR_RETURN(HttpResponse response, SendFollowingRedirects(options_, request, body));
  if (response.transport != CURLE_OK || response.status != 401) return response;
  Challenges challenges = ParseChallenges(response.Header("www-authenticate"));
  const Challenge* chosen = ChooseChallenge(challenges);
  if (chosen == nullptr) return response;  // reported as a plain 401
  ASSIGN_OR_RETURN(std::string authorization,
                   Authorize(chosen->first, chosen->second, scope, what));
  if (authorization == request.authorization) return response;  // refused already
  request.authorization = std::move(authorization);
  return SendFollowingRedirects(options_, std::move(request), body);
}

std::string RegistryClient::CredentialsName() const {
  if (!auth_.registry_token.empty()) return "the registry token";
  if (!auth_.identity_token.empty()) return "the identity token";
  if (!auth_.username.empty() || !auth_.password.empty()) {
    return absl::StrCat("the credentials of user \"", auth_.username, "\"");
  }
  return "anonymous access (no credentials are set)";
}

absl::Status RegistryClient::Error(const HttpResponse& response, const std::string& what) const {
  const std::string& host = endpoint_.host;
  if (response.transport != CURLE_OK) {
    absl::StatusCode code = response.transport == CURLE_OPERATION_TIMEDOUT
                                ? absl::StatusCode::kDeadlineExceeded
                                : absl::StatusCode::kUnavailable;
    return absl::Status(code, absl::StrCat("fetching ", what, " from registry ", host, ": ",
                                           response.transport_error));
  }
  std::string detail = Detail(response);
  switch (response.status) {
    case 401:
      return absl::UnauthenticatedError(absl::StrCat(
          "registry ", host, " refused ", CredentialsName(), " for ", what, " (HTTP 401)", detail));
    case 403:
      return absl::PermissionDeniedError(
          absl::StrCat("registry ", host, " denied access to ", what, " (HTTP 403)", detail));
    case 404:
      return absl::NotFoundError(absl::StrCat(what, " not found on registry ", host, detail));
    case 429:
      return absl::ResourceExhaustedError(
          absl::StrCat("registry ", host, " is rate-limiting requests for ", what, detail));
    default:
      break;
  }
  std::string message =
      absl::StrCat("registry ", host, " answered HTTP ", response.status, " for ", what, detail);
  if (response.status >= 500) return absl::UnavailableError(message);
  return absl::UnknownError(message);
}

absl::StatusOr<FetchedManifest> RegistryClient::GetManifest(const std::string& repository,
                                                            const std::string& tag_or_digest) {
  RETURN_IF_ERROR(ValidateRepository(repository));
  std::optional<Digest> wanted;
  if (absl::StrContains(tag_or_digest, ':')) {
    ASSIGN_OR_RETURN(wanted, ParseDigest(tag_or_digest));
  } else {
    RETURN_IF_ERROR(ValidateTag(tag_or_digest));
  }
  std::string what =
      absl::StrCat("manifest ", repository, wanted.has_value() ? "@" : ":", tag_or_digest);
  auto too_large = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("registry ", endpoint_.host, " sent a manifest larger than 4 MiB for ", what));
  };
  std::string body;
  BodyHandler handler;
  handler.on_start = [&](const HttpResponse& response) {
    return ContentLength(response) > kMaxManifestBytes ? too_large() : absl::OkStatus();
  };
  handler.on_data = [&](absl::string_view chunk) {
    if (static_cast<int64_t>(body.size() + chunk.size()) > kMaxManifestBytes) return too_large();
    body.append(chunk.data(), chunk.size());
    return absl::OkStatus();
  };
  HttpRequest request;
  request.url = absl::StrCat(BaseUrl(), "/v2/", repository, "/manifests/", tag_or_digest);
  request.headers.push_back(ManifestAccept());
  request.follow_redirects = true;
  std::string scope = absl::StrCat("repository:", repository, ":pull");
  ASSIGN_OR_RETURN(HttpResponse response, WithRetries(options_, [&] {
                     body.clear();
                     return Send(request, scope, what, handler);
                   }));
  if (!response.ok()) return Error(response, what);
  FetchedManifest fetched;
  std::string content_type = response.Header("content-type");
  fetched.media_type = std::string(absl::StripAsciiWhitespace(
      absl::string_view(content_type).substr(0, content_type.find(';'))));
  fetched.digest = Sha256Of(body);
  fetched.body = std::move(body);
  if (wanted.has_value() && fetched.digest != *wanted) {
    return absl::DataLossError(absl::StrCat("registry ", endpoint_.host, " sent ", what,
                                            " whose content has digest ", fetched.digest.String()));
  }
  return fetched;
}

namespace {

// Checks a 206's Content-Range ("bytes <first>-<last>/<total>") starts at
// `delivered`; sets `total` when the server tells it.
absl::Status CheckResumedRange(const HttpResponse& response, int64_t delivered, int64_t& total) {
  std::string range = response.Header("content-range");
  absl::string_view rest(range);
  int64_t first = -1;
  if (absl::ConsumePrefix(&rest, "bytes ")) {
    size_t dash = rest.find('-');
    size_t slash = rest.find('/');
    if (!absl::SimpleAtoi(rest.substr(0, dash), &first)) first = -1;
    if (slash != absl::string_view::npos && !absl::SimpleAtoi(rest.substr(slash + 1), &total)) {
      total = -1;
    }
  }
  if (first != delivered) {
    return absl::UnavailableError(absl::StrCat("asked to resume at byte ", delivered,
                                               ", the registry sent Content-Range \"", range,
                                               "\""));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RegistryClient::GetBlob(const std::string& repository, const Digest& digest,
                                     const std::function<absl::Status(absl::string_view)>& sink,
                                     const std::function<void()>& restart) {
  RETURN_IF_ERROR(ValidateRepository(repository));
  std::string what = absl::StrCat("blob ", digest.String(), " of ", repository);
  int64_t delivered = 0;
  int64_t total = -1;
  BodyHandler handler;
  handler.on_start = [&](const HttpResponse& response) {
    if (response.status == 206) return CheckResumedRange(response, delivered, total);
    if (delivered > 0) {
      restart();  // the server sent the whole blob again
      delivered = 0;
    }
    total = ContentLength(response);
    return absl::OkStatus();
  };
  handler.on_data = [&](absl::string_view chunk) {
    RETURN_IF_ERROR(sink(chunk));
    delivered += static_cast<int64_t>(chunk.size());
    if (options_.progress) options_.progress(digest, delivered, total);
    return absl::OkStatus();
  };
  std::string scope = absl::StrCat("repository:", repository, ":pull");
  ASSIGN_OR_RETURN(HttpResponse response, WithRetries(options_, [&] {
                     HttpRequest request;
                     request.url =
                         absl::StrCat(BaseUrl(), "/v2/", repository, "/blobs/", digest.String());
                     if (delivered > 0) {
                       request.headers.push_back(absl::StrCat("Range: bytes=", delivered, "-"));
                     }
                     request.follow_redirects = true;
                     return Send(request, scope, what, handler);
                   }));
  if (!response.ok()) return Error(response, what);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> FetchUrl(const std::string& url, size_t max_bytes,
                                                    const RegistryClientOptions& options) {
  if (!absl::StartsWith(url, "https://") && !absl::StartsWith(url, "http://")) {
    return absl::InvalidArgumentError(absl::StrCat("not an http(s) URL: ", url));
  }
  std::string body;
  BodyHandler handler;
  handler.on_data = [&](absl::string_view chunk) {
    if (body.size() + chunk.size() > max_bytes) {
      return absl::OutOfRangeError(absl::StrCat(url, " is larger than ", max_bytes, " bytes"));
    }
    body.append(chunk.data(), chunk.size());
    return absl::OkStatus();
  };
  HttpRequest request;
  request.url = url;
  for (int hops = 0;; ++hops) {
    ASSIGN_OR_RETURN(HttpResponse response, WithRetries(options, [&] {
                       body.clear();
                       return Exchange(options, request, handler);
                     }));
    if (response.transport != CURLE_OK) {
      return absl::Status(response.transport == CURLE_OPERATION_TIMEDOUT
                              ? absl::StatusCode::kDeadlineExceeded
                              : absl::StatusCode::kUnavailable,
                          absl::StrCat("GET ", request.url, ": ", response.transport_error));
    }
    if (IsRedirect(response.status) && !response.redirect_url.empty()) {
      const std::string& next = response.redirect_url;
      if (hops == kMaxRedirects) {
        return absl::FailedPreconditionError(
            absl::StrCat("more than ", kMaxRedirects, " redirects from ", url));
      }
      bool https = absl::StartsWithIgnoreCase(next, "https://");
      if (!https && !absl::StartsWithIgnoreCase(next, "http://")) {
        return absl::FailedPreconditionError(
            absl::StrCat(request.url, " redirects to unsupported URL ", next));
      }
      if (!https && absl::StartsWithIgnoreCase(request.url, "https://")) {
        return absl::FailedPreconditionError(
            absl::StrCat(request.url, " redirects from https to plain http: ", next));
      }
      request.url = next;
      continue;
    }
    if (response.status == 404) return std::nullopt;
    if (!response.ok()) {
      std::string message = absl::StrCat("GET ", request.url, ": HTTP ", response.status);
      if (response.status >= 500) return absl::UnavailableError(message);
      return absl::FailedPreconditionError(message);
    }
    return body;
  }
}

absl::Status RegistryClient::Ping() {
  HttpRequest request;
  request.url = BaseUrl() + "/v2/";
  BodyHandler handler;
  handler.on_data = [](absl::string_view) { return absl::OkStatus(); };
  std::string what = "the API v2 endpoint";
  ASSIGN_OR_RETURN(HttpResponse response,
                   WithRetries(options_, [&] { return Send(request, "", what, handler); }));
  if (!response.ok()) return Error(response, what);
  return absl::OkStatus();
}

}  // namespace ocid
