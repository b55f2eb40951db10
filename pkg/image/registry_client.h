// A client of one registry's distribution API v2 (libcurl): manifests and
// blobs, with token or basic authentication, retries and resumed downloads.
#ifndef OCID_PKG_IMAGE_REGISTRY_CLIENT_H_
#define OCID_PKG_IMAGE_REGISTRY_CLIENT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "pkg/storage/digest.h"

namespace ocid {

namespace registry_client_internal {
struct HttpRequest;
struct HttpResponse;
struct BodyHandler;
}  // namespace registry_client_internal

struct RegistryEndpoint {
  std::string host;  // "registry-1.docker.io", "127.0.0.1:5000"
  // Plain http instead of https (containers' "insecure" registries).
  bool insecure = false;
};

// Credentials for one registry (the shape of an auth file entry). At most
// one kind is used: registry_token, else identity_token, else
// username/password; none means anonymous.
struct RegistryAuth {
  std::string username;
  std::string password;
  std::string identity_token;  // an OAuth2 refresh token for the token server
  std::string registry_token;  // sent as the bearer token as it is
};

struct RegistryClientOptions {
  absl::Duration connect_timeout = absl::Seconds(30);
  // A transfer slower than low_speed_bytes_per_second for low_speed_time
  // fails (and is retried).
  absl::Duration low_speed_time = absl::Seconds(30);
  int64_t low_speed_bytes_per_second = 1024;
  // Retries after a transient failure (connection errors, timeouts, 5xx,
  // 408, 429); attempt n waits backoff_base * 2^n.
  int max_retries = 3;
  absl::Duration backoff_base = absl::Milliseconds(200);
  std::string user_agent = "ocid/0.1.0";
  // Called during GetBlob with the bytes delivered so far and the blob's
  // size (-1 while unknown).
  std::function<void(const Digest&, int64_t delivered, int64_t total)> progress;
  // Injected for tests.
  std::function<absl::Time()> now = [] { return absl::Now(); };
  std::function<void(absl::Duration)> sleep = [](absl::Duration d) { absl::SleepFor(d); };
};

struct FetchedManifest {
  std::string media_type;  // the Content-Type, without parameters
  std::string body;
  Digest digest;  // sha256 of body
};

// Thread-safe: concurrent pulls may share one client (and its tokens).
class RegistryClient {
 public:
  RegistryClient(RegistryEndpoint endpoint, RegistryAuth auth, RegistryClientOptions options = {});
  RegistryClient(const RegistryClient&) = delete;
  RegistryClient& operator=(const RegistryClient&) = delete;

  // GET /v2/<repository>/manifests/<tag_or_digest>, accepting the Docker
  // and OCI manifest and index types. Bodies over kMaxManifestBytes are cut
  // off (InvalidArgument "manifest larger than 4 MiB"); a by-digest fetch
  // whose body hashes differently is DataLoss. NotFound carries the
  // registry's error ("MANIFEST_UNKNOWN: manifest unknown"); Unauthenticated
  // or PermissionDenied name the registry and repository.
  absl::StatusOr<FetchedManifest> GetManifest(const std::string& repository,
                                              const std::string& tag_or_digest);

  // Streams blob `digest` to `sink`, chunk by chunk in order; an error from
  // `sink` aborts the download and is returned. Nothing is verified here
  // (the caller hashes). Transient failures are retried; a retry resumes
  // with a Range request from the bytes delivered so far, and when the
  // server sends the whole blob again instead, `restart` is called first so
  // the sink can drop what it has.
  absl::Status GetBlob(const std::string& repository, const Digest& digest,
                       const std::function<absl::Status(absl::string_view)>& sink,
                       const std::function<void()>& restart);

  // GET /v2/: OK when the registry speaks API v2 and accepts our credentials.
  absl::Status Ping();

  // "https://host" or "http://host".
  std::string BaseUrl() const;

 private:
  using HttpRequest = registry_client_internal::HttpRequest;
  using HttpResponse = registry_client_internal::HttpResponse;
  using BodyHandler = registry_client_internal::BodyHandler;
  struct CachedToken {
    std::string token;
    absl::Time expires;
  };
  // (realm, service, scope)
  using TokenKey = std::tuple<std::string, std::string, std::string>;

  // One attempt at `request` for `scope` ("" for none): sends a cached
  // token or credentials up front; on a 401 obtains new ones for the
  // challenge and sends the request once more. Transport failures and HTTP
  // errors come back in the response, for the caller to retry or report.
  absl::StatusOr<HttpResponse> Send(HttpRequest request, const std::string& scope,
                                    const std::string& what, const BodyHandler& body);
  // The Authorization value to send before any challenge ("" for none).
  std::string CachedAuthorization(const std::string& scope);
  // The Authorization value answering a WWW-Authenticate challenge
  // (`scheme` lowercased), fetching a bearer token when needed.
  absl::StatusOr<std::string> Authorize(const std::string& scheme,
                                        const std::map<std::string, std::string>& params,
                                        const std::string& scope, const std::string& what);
  absl::StatusOr<CachedToken> FetchToken(const std::string& realm, const std::string& service,
                                         const std::string& scope, const std::string& what);
  HttpRequest TokenRequest(const std::string& realm, const std::string& service,
                           const std::string& scope) const;
  std::string BasicAuthorization() const;
  // "the credentials of user "x"", for errors (never the secret).
  std::string CredentialsName() const;
  absl::Status Error(const HttpResponse& response, const std::string& what) const;

  const RegistryEndpoint endpoint_;
  const RegistryAuth auth_;
  const RegistryClientOptions options_;

  absl::Mutex mu_;
  std::map<TokenKey, CachedToken> tokens_ ABSL_GUARDED_BY(mu_);
  // The registry's last challenge, so later requests can send a cached token
  // (or basic credentials) up front instead of collecting a 401 first.
  std::string bearer_realm_ ABSL_GUARDED_BY(mu_);
  std::string bearer_service_ ABSL_GUARDED_BY(mu_);
  bool uses_basic_ ABSL_GUARDED_BY(mu_) = false;
};

// GET `url` (http:// or https://) with no credentials: for files beside
// registries, such as signature lookasides. Returns the body, or nullopt
// for a 404. Redirects are followed to http(s) only and never from https
// to plain http (FailedPrecondition naming both URLs); a body over
// `max_bytes` is OutOfRange; transient failures are retried as registry
// requests are; other HTTP errors name the URL and status.
absl::StatusOr<std::optional<std::string>> FetchUrl(const std::string& url, size_t max_bytes,
                                                    const RegistryClientOptions& options = {});

}  // namespace ocid

#endif  // OCID_PKG_IMAGE_REGISTRY_CLIENT_H_
