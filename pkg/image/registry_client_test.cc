#include "pkg/image/registry_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pkg/base/unique_fd.h"
#include "pkg/image/manifest.h"

namespace ocid {
namespace {

using ::testing::HasSubstr;

// ---- A fake registry: HTTP/1.1 on 127.0.0.1, one connection at a time ----

struct FakeRequest {
  std::string method;
  std::string path;                            // without the query
  std::string query;                           // after '?'
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct FakeResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Announces the whole body but closes the connection after this many
  // bytes of it: a connection dropped mid-transfer.
  size_t drop_after = std::string::npos;
  bool send_length = true;  // false: the body ends when the connection does
};

class FakeServer {
 public:
  using Handler = std::function<FakeResponse(const FakeRequest&)>;

  FakeServer() {
    listener_.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (!listener_.valid() ||
        ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(listener_.get(), 16) != 0 ||
        ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1: " << errno;
      return;
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }

  ~FakeServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  std::string host() const { return absl::StrCat("127.0.0.1:", port_); }

  void Handle(const std::string& path, Handler handler) {
    absl::MutexLock lock(&mu_);
    handlers_[path] = std::move(handler);
  }

  std::vector<FakeRequest> Requests(const std::string& path) const {
    absl::MutexLock lock(&mu_);
    std::vector<FakeRequest> matching;
    for (const FakeRequest& request : requests_) {
      if (request.path == path) matching.push_back(request);
    }
    return matching;
  }

  int Count(const std::string& path) const { return static_cast<int>(Requests(path).size()); }

 private:
  void Serve() {
    while (!stop_) {
      pollfd poll_fd{listener_.get(), POLLIN, 0};
      if (::poll(&poll_fd, 1, 20) <= 0) continue;
      UniqueFd connection(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (connection.valid()) ServeConnection(connection.get());
    }
  }

  static bool ReadRequest(int fd, FakeRequest& request) {
    timeval timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    std::string data;
    char buffer[4096];
    size_t end;
    while ((end = data.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) return false;
      data.append(buffer, n);
    }
    std::vector<std::string> lines = absl::StrSplit(data.substr(0, end), "\r\n");
    std::vector<std::string> request_line = absl::StrSplit(lines[0], ' ');
    if (request_line.size() != 3) return false;
    request.method = request_line[0];
    std::vector<std::string> target = absl::StrSplit(request_line[1], absl::MaxSplits('?', 1));
    request.path = target[0];
    if (target.size() > 1) request.query = target[1];
    for (size_t i = 1; i < lines.size(); ++i) {
      size_t colon = lines[i].find(':');
      if (colon == std::string::npos) continue;
      request.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    }
    size_t length = 0;
    if (!absl::SimpleAtoi(request.Header("content-length"), &length)) length = 0;
    request.body = data.substr(end + 4);
    while (request.body.size() < length) {
      ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) return false;
      request.body.append(buffer, n);
    }
    return true;
  }

  static void Write(int fd, absl::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return;  // the client went away (it may abort on purpose)
      data.remove_prefix(n);
    }
  }

  void ServeConnection(int fd) {
    FakeRequest request;
    if (!ReadRequest(fd, request)) return;
    Handler handler;
    {
      absl::MutexLock lock(&mu_);
      requests_.push_back(request);
      auto it = handlers_.find(request.path);
      if (it != handlers_.end()) handler = it->second;
    }
    FakeResponse response;
    if (handler) {
      response = handler(request);
    } else {
      response.status = 404;
      response.body = R"({"errors":[{"code":"NAME_UNKNOWN","message":"no handler"}]})";
    }
    std::string head = absl::StrCat("HTTP/1.1 ", response.status, " X\r\n");
    for (const auto& [name, value] : response.headers)
      absl::StrAppend(&head, name, ": ", value, "\r\n");
    if (response.send_length)
      absl::StrAppend(&head, "Content-Length: ", response.body.size(), "\r\n");
    absl::StrAppend(&head, "Connection: close\r\n\r\n");
    Write(fd, head);
    Write(fd, absl::string_view(response.body).substr(0, response.drop_after));
    ::shutdown(fd, SHUT_WR);
  }

  UniqueFd listener_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex mu_;
  std::map<std::string, Handler> handlers_ ABSL_GUARDED_BY(mu_);
  std::vector<FakeRequest> requests_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// ---- helpers ----

constexpr char kRepository[] = "library/alpine";
constexpr char kManifestPath[] = "/v2/library/alpine/manifests/latest";

RegistryClientOptions FastOptions() {
  RegistryClientOptions options;
  options.connect_timeout = absl::Seconds(5);
  options.low_speed_time = absl::Seconds(10);
  options.backoff_base = absl::Milliseconds(1);
  return options;
}

std::string ManifestBody() {
  return absl::StrCat(R"({"schemaVersion":2,"mediaType":")", kMediaTypeOciManifest,
                      R"(","config":{"mediaType":")", kMediaTypeOciConfig, R"(","digest":"sha256:)",
                      std::string(64, 'c'), R"(","size":2},"layers":[]})");
}

FakeResponse ManifestResponse(const std::string& body = ManifestBody()) {
  FakeResponse response;
  response.headers = {{"Content-Type", absl::StrCat(kMediaTypeOciManifest, "; charset=utf-8")}};
  response.body = body;
  return response;
}

FakeResponse Unauthorized(const std::string& challenge) {
  FakeResponse response;
  response.status = 401;
  response.headers = {{"WWW-Authenticate", challenge}};
  response.body = R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})";
  return response;
}

std::string Basic(const std::string& user, const std::string& password) {
  return "Basic " + absl::Base64Escape(user + ":" + password);
}

std::string BlobData(size_t size) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>((i * 131) ^ (i >> 9));
  return data;
}

const Digest kBlobDigest{"sha256", std::string(64, 'b')};
const std::string kBlobPath = "/v2/library/alpine/blobs/sha256:" + std::string(64, 'b');

// Collects a blob like a blob store would: restart drops what it has.
struct BlobSink {
  std::string data;
  int chunks = 0;
  int restarts = 0;
  std::function<absl::Status(absl::string_view)> sink = [this](absl::string_view chunk) {
    data.append(chunk.data(), chunk.size());
    ++chunks;
    return absl::OkStatus();
  };
  std::function<void()> restart = [this] {
    data.clear();
    ++restarts;
  };
};

RegistryClient Client(const FakeServer& server, RegistryAuth auth = {},
                      RegistryClientOptions options = FastOptions()) {
  return RegistryClient(RegistryEndpoint{server.host(), /*insecure=*/true}, std::move(auth),
                        std::move(options));
}

// ---- manifests ----

TEST(RegistryClientTest, GetManifestByTag) {
  FakeServer server;
  server.Handle(kManifestPath, [](const FakeRequest&) { return ManifestResponse(); });
  RegistryClient client = Client(server);
  auto fetched = client.GetManifest(kRepository, "latest");
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(fetched->media_type, kMediaTypeOciManifest);
  EXPECT_EQ(fetched->body, ManifestBody());
  EXPECT_EQ(fetched->digest, Sha256Of(ManifestBody()));
  std::vector<FakeRequest> requests = server.Requests(kManifestPath);
  ASSERT_EQ(requests.size(), 1u);
  std::string accept = requests[0].Header("accept");
  for (const char* type : {kMediaTypeOciManifest, kMediaTypeOciIndex, kMediaTypeDockerManifest,
                           kMediaTypeDockerManifestList}) {
    EXPECT_THAT(accept, HasSubstr(type));
  }
  EXPECT_EQ(requests[0].Header("user-agent"), "ocid/0.1.0");
  EXPECT_EQ(requests[0].Header("authorization"), "");
}

TEST(RegistryClientTest, GetManifestByDigestVerifiesIt) {
  FakeServer server;
  const Digest digest = Sha256Of(ManifestBody());
  const std::string path = "/v2/library/alpine/manifests/" + digest.String();
  bool tamper = false;
  server.Handle(path, [&](const FakeRequest&) {
    return ManifestResponse(tamper ? ManifestBody() + " " : ManifestBody());
  });
  RegistryClient client = Client(server);
  auto fetched = client.GetManifest(kRepository, digest.String());
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(fetched->digest, digest);

  tamper = true;
  fetched = client.GetManifest(kRepository, digest.String());
  EXPECT_EQ(fetched.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(fetched.status().message(), HasSubstr(digest.String()));
}

TEST(RegistryClientTest, OversizedManifestIsCutOff) {
  for (bool send_length : {true, false}) {
    FakeServer server;
    server.Handle(kManifestPath, [&](const FakeRequest&) {
      FakeResponse response = ManifestResponse(std::string(kMaxManifestBytes + 4096, ' '));
      response.send_length = send_length;
      return response;
    });
    RegistryClient client = Client(server);
    auto fetched = client.GetManifest(kRepository, "latest");
    EXPECT_EQ(fetched.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(fetched.status().message(), HasSubstr("manifest larger than 4 MiB"));
    EXPECT_EQ(server.Count(kManifestPath), 1) << "no retry for an oversized manifest";
  }
}

TEST(RegistryClientTest, NotFoundCarriesRegistryError) {
  FakeServer server;
  server.Handle("/v2/library/alpine/manifests/nope", [](const FakeRequest&) {
    FakeResponse response;
    response.status = 404;
    response.headers = {{"Content-Type", "application/json"}};
    response.body =
        R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"nope"}}]})";
    return response;
  });
  RegistryClient client = Client(server);
  auto fetched = client.GetManifest(kRepository, "nope");
  EXPECT_EQ(fetched.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(fetched.status().message(), HasSubstr("MANIFEST_UNKNOWN: manifest unknown"));
  EXPECT_THAT(fetched.status().message(), HasSubstr("library/alpine:nope"));
  EXPECT_THAT(fetched.status().message(), HasSubstr(server.host()));
}

TEST(RegistryClientTest, InvalidNamesAreRefusedLocally) {
  FakeServer server;
  RegistryClient client = Client(server);
  for (const auto& [repository, reference] : std::vector<std::pair<std::string, std::string>>{
           {"Library/Alpine", "latest"},
           {"library/../etc", "latest"},
           {"library//alpine", "latest"},
           {"", "latest"},
           {"alpine?x=1", "latest"},
           {"alpine", "bad tag"},
           {"alpine", "../../x"},
           {"alpine", "sha256:1234"},
       }) {
    auto fetched = client.GetManifest(repository, reference);
    EXPECT_EQ(fetched.status().code(), absl::StatusCode::kInvalidArgument)
        << repository << " " << reference;
  }
  BlobSink blob;
  EXPECT_FALSE(client.GetBlob("UPPER", kBlobDigest, blob.sink, blob.restart).ok());
}

// ---- blobs ----

TEST(RegistryClientTest, BlobStreamsInChunksWithProgress) {
  FakeServer server;
  const std::string data = BlobData(3 << 20);
  server.Handle(kBlobPath, [&](const FakeRequest&) {
    FakeResponse response;
    response.body = data;
    return response;
  });
  RegistryClientOptions options = FastOptions();
  int64_t last_delivered = 0;
  int64_t last_total = 0;
  options.progress = [&](const Digest& digest, int64_t delivered, int64_t total) {
    EXPECT_EQ(digest, kBlobDigest);
    EXPECT_GE(delivered, last_delivered);
    last_delivered = delivered;
    last_total = total;
  };
  RegistryClient client = Client(server, {}, options);
  BlobSink blob;
  ASSERT_TRUE(client.GetBlob(kRepository, kBlobDigest, blob.sink, blob.restart).ok());
  EXPECT_TRUE(blob.data == data);
  EXPECT_GT(blob.chunks, 1);
  EXPECT_EQ(blob.restarts, 0);
  EXPECT_EQ(last_delivered, static_cast<int64_t>(data.size()));
  EXPECT_EQ(last_total, static_cast<int64_t>(data.size()));
}

TEST(RegistryClientTest, RetriesServerErrors) {
  FakeServer server;
  const std::string data = BlobData(1000);
  std::atomic<int> calls{0};
  server.Handle(kBlobPath, [&](const FakeRequest&) {
    FakeResponse response;
    int call = calls++;
    if (call == 0) response.status = 500;
    if (call == 1) response.status = 429;
    if (call >= 2) response.body = data;
    return response;
  });
  RegistryClient client = Client(server);
  BlobSink blob;
  absl::Status status = client.GetBlob(kRepository, kBlobDigest, blob.sink, blob.restart);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(server.Count(kBlobPath), 3);
  EXPECT_TRUE(blob.data == data);
}

TEST(RegistryClientTest, GivesUpAfterMaxRetries) {
  FakeServer server;
  server.Handle(kManifestPath, [](const FakeRequest&) {
    FakeResponse response;
    response.status = 503;
    return response;
  });
  RegistryClient client = Client(server);
  auto fetched = client.GetManifest(kRepository, "latest");
  EXPECT_EQ(fetched.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(fetched.status().message(), HasSubstr("503"));
  EXPECT_EQ(server.Count(kManifestPath), 4);  // 1 + max_retries
}

TEST(RegistryClientTest, ResumesDroppedBlobWithRange) {
  FakeServer server;
  const std::string data = BlobData(100000);
  server.Handle(kBlobPath, [&](const FakeRequest& request) {
    FakeResponse response;
    response.body = data;
    std::string range = request.Header("range");
    if (range.empty()) {
      response.drop_after = 30000;
    } else if (range == "bytes=30000-") {
      response.status = 206;
      response.headers = {{"Content-Range", "bytes 30000-99999/100000"}};
      response.body = data.substr(30000);
    }
    return response;
  });
  RegistryClient client = Client(server);
  BlobSink blob;
  absl::Status status = client.GetBlob(kRepository, kBlobDigest, blob.sink, blob.restart);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(blob.restarts, 0);
  EXPECT_TRUE(blob.data == data);
  std::vector<FakeRequest> requests = server.Requests(kBlobPath);
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].Header("range"), "bytes=30000-");
}

TEST(RegistryClientTest, RestartsWhenServerIgnoresRange) {
  FakeServer server;
  const std::string data = BlobData(100000);
  server.Handle(kBlobPath, [&](const FakeRequest& request) {
    FakeResponse response;
    response.body = data;
    if (request.Header("range").empty()) response.drop_after = 40000;
    return response;  // a 200 with everything, Range or not
  });
  RegistryClient client = Client(server);
  BlobSink blob;
  absl::Status status = client.GetBlob(kRepository, kBlobDigest, blob.sink, blob.restart);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(blob.restarts, 1);
  EXPECT_TRUE(blob.data == data);
  EXPECT_EQ(server.Count(kBlobPath), 2);
}

TEST(RegistryClientTest, SinkErrorAbortsWithoutRetry) {
  FakeServer server;
  server.Handle(kBlobPath, [](const FakeRequest&) {
    FakeResponse response;
    response.body = BlobData(1 << 20);
    return response;
  });
  RegistryClient client = Client(server);
  auto sink = [](absl::string_view) { return absl::ResourceExhaustedError("disk full"); };
  absl::Status status = client.GetBlob(kRepository, kBlobDigest, sink, [] {});
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(status.message(), "disk full");
  EXPECT_EQ(server.Count(kBlobPath), 1);
}

TEST(RegistryClientTest, RedirectDropsRegistryCredentials) {
  FakeServer registry;
  FakeServer storage;
  const std::string data = BlobData(5000);
  registry.Handle(kBlobPath, [&](const FakeRequest& request) {
    if (request.Header("authorization") != Basic("alice", "secret")) {
      return Unauthorized(R"(Basic realm="fake")");
    }
    FakeResponse response;
    response.status = 307;
    response.headers = {{"Location", absl::StrCat("http://", storage.host(), "/blob?sig=1")}};
    return response;
  });
  storage.Handle("/blob", [&](const FakeRequest&) {
    FakeResponse response;
    response.body = data;
    return response;
  });
  RegistryClient client = Client(registry, RegistryAuth{"alice", "secret"});
  BlobSink blob;
  absl::Status status = client.GetBlob(kRepository, kBlobDigest, blob.sink, blob.restart);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(blob.data == data);
  std::vector<FakeRequest> requests = storage.Requests("/blob");
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].query, "sig=1");
  EXPECT_EQ(requests[0].Header("authorization"), "");
}

TEST(FetchUrlTest, BodyNotFoundAndSizeCap) {
  FakeServer server;
  server.Handle("/sigs/a@sha256=1/signature-1", [](const FakeRequest&) {
    FakeResponse response;
    response.body = "signature bytes";
    return response;
  });
  const std::string base = absl::StrCat("http://", server.host(), "/sigs/a@sha256=1/");
  absl::StatusOr<std::optional<std::string>> got =
      FetchUrl(base + "signature-1", 1024, FastOptions());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, "signature bytes");
  absl::StatusOr<std::optional<std::string>> missing =
      FetchUrl(base + "signature-2", 1024, FastOptions());
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_FALSE(missing->has_value());
  absl::StatusOr<std::optional<std::string>> big = FetchUrl(base + "signature-1", 4, FastOptions());
  EXPECT_EQ(big.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(FetchUrl("file:///etc/passwd", 1024).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FetchUrlTest, RedirectsOnlyToHttp) {
  FakeServer server;
  auto redirect_to = [](std::string location) {
    return [location](const FakeRequest&) {
      FakeResponse response;
      response.status = 302;
      response.headers = {{"Location", location}};
      return response;
    };
  };
  server.Handle("/moved", redirect_to(absl::StrCat("http://", server.host(), "/here")));
  server.Handle("/here", [](const FakeRequest&) {
    FakeResponse response;
    response.body = "here";
    return response;
  });
  server.Handle("/to-file", redirect_to("file:///etc/shadow"));
  absl::StatusOr<std::optional<std::string>> moved =
      FetchUrl(absl::StrCat("http://", server.host(), "/moved"), 1024, FastOptions());
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->value_or(""), "here");
  absl::StatusOr<std::optional<std::string>> to_file =
      FetchUrl(absl::StrCat("http://", server.host(), "/to-file"), 1024, FastOptions());
  EXPECT_EQ(to_file.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(to_file.status().message()), HasSubstr("unsupported URL file:///"));
}

TEST(FetchUrlTest, ServerErrorsAreRetriedThenUnavailable) {
  FakeServer server;
  server.Handle("/flaky", [](const FakeRequest&) {
    FakeResponse response;
    response.status = 503;
    return response;
  });
  absl::StatusOr<std::optional<std::string>> got =
      FetchUrl(absl::StrCat("http://", server.host(), "/flaky"), 1024, FastOptions());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(server.Count("/flaky"), 4);  // the first try and 3 retries
}

TEST(RegistryClientTest, ConnectionRefusedIsUnavailable) {
  int port = 0;
  {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length), 0);
    ASSERT_EQ(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);
    port = ntohs(address.sin_port);
  }
  RegistryClient client(RegistryEndpoint{absl::StrCat("127.0.0.1:", port), true}, {},
                        FastOptions());
  absl::Status status = client.Ping();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr(absl::StrCat("127.0.0.1:", port)));
}

// ---- authentication ----

class BearerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Handle(kManifestPath, [this](const FakeRequest& request) {
      if (request.Header("authorization") != "Bearer " + good_token_) {
        return Unauthorized(absl::StrCat(R"(Bearer realm="http://)", server_.host(),
                                         R"(/token",service="fake-registry",)",
                                         R"(scope="repository:library/alpine:pull")"));
      }
      return ManifestResponse();
    });
  }

  void ServeTokens(std::function<FakeResponse(const FakeRequest&)> handler) {
    server_.Handle("/token", std::move(handler));
  }

  static FakeResponse Json(const std::string& body) {
    FakeResponse response;
    response.headers = {{"Content-Type", "application/json"}};
    response.body = body;
    return response;
  }

  FakeServer server_;
  std::string good_token_ = "tok-1";
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

TEST_F(BearerTest, AnonymousTokenIsFetchedOnceAndCached) {
  ServeTokens([](const FakeRequest&) { return Json(R"({"token":"tok-1","expires_in":300})"); });
  RegistryClient client = Client(server_);
  ASSERT_TRUE(client.GetManifest(kRepository, "latest").ok());
  auto second = client.GetManifest(kRepository, "latest");
  ASSERT_TRUE(second.ok()) << second.status();
  std::vector<FakeRequest> tokens = server_.Requests("/token");
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0].method, "GET");
  EXPECT_THAT(tokens[0].query, HasSubstr("service=fake-registry"));
  EXPECT_THAT(tokens[0].query, HasSubstr("scope=repository%3Alibrary%2Falpine%3Apull"));
  EXPECT_EQ(tokens[0].Header("authorization"), "");
  // 401, then with the token; the second fetch sends the cached token at once.
  EXPECT_EQ(server_.Count(kManifestPath), 3);
}

TEST_F(BearerTest, ExpiredTokenIsFetchedAgain) {
  ServeTokens([](const FakeRequest&) { return Json(R"({"token":"tok-1"})"); });  // 60 s
  RegistryClientOptions options = FastOptions();
  options.now = [this] { return now_; };
  RegistryClient client = Client(server_, {}, options);
  ASSERT_TRUE(client.GetManifest(kRepository, "latest").ok());
  now_ += absl::Seconds(59);
  ASSERT_TRUE(client.GetManifest(kRepository, "latest").ok());
  EXPECT_EQ(server_.Count("/token"), 1);
  now_ += absl::Seconds(2);
  ASSERT_TRUE(client.GetManifest(kRepository, "latest").ok());
  EXPECT_EQ(server_.Count("/token"), 2);
}

TEST_F(BearerTest, BasicCredentialsGoToTheTokenServer) {
  ServeTokens([](const FakeRequest& request) {
    if (request.Header("authorization") != Basic("alice", "secret")) {
      return Unauthorized(R"(Basic realm="tokens")");
    }
    return Json(R"({"access_token":"tok-1","expires_in":300})");
  });
  RegistryClient client = Client(server_, RegistryAuth{"alice", "secret"});
  auto fetched = client.GetManifest(kRepository, "latest");
  ASSERT_TRUE(fetched.ok()) << fetched.status();

  RegistryClient wrong = Client(server_, RegistryAuth{"alice", "guess"});
  fetched = wrong.GetManifest(kRepository, "latest");
  EXPECT_EQ(fetched.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(fetched.status().message(), HasSubstr(server_.host()));
  EXPECT_THAT(fetched.status().message(), HasSubstr("library/alpine"));
}

TEST_F(BearerTest, IdentityTokenUsesOAuthPost) {
  ServeTokens([](const FakeRequest& request) {
    if (request.method != "POST" || !absl::StrContains(request.body, "grant_type=refresh_token") ||
        !absl::StrContains(request.body, "refresh_token=id-123") ||
        !absl::StrContains(request.body, "scope=repository%3Alibrary%2Falpine%3Apull")) {
      FakeResponse response;
      response.status = 400;
      return response;
    }
    return Json(R"({"access_token":"tok-1","expires_in":300})");
  });
  RegistryAuth auth;
  auth.identity_token = "id-123";
  RegistryClient client = Client(server_, auth);
  auto fetched = client.GetManifest(kRepository, "latest");
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(server_.Count("/token"), 1);
}

TEST_F(BearerTest, RegistryTokenIsSentAsIs) {
  good_token_ = "reg-tok";
  RegistryAuth auth;
  auth.registry_token = "reg-tok";
  RegistryClient client = Client(server_, auth);
  auto fetched = client.GetManifest(kRepository, "latest");
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(server_.Count("/token"), 0);
  EXPECT_EQ(server_.Count(kManifestPath), 1);
}

TEST_F(BearerTest, RefusedTokenIsUnauthenticated) {
  ServeTokens([](const FakeRequest&) { return Json(R"({"token":"not-good"})"); });
  RegistryClient client = Client(server_);
  auto fetched = client.GetManifest(kRepository, "latest");
  EXPECT_EQ(fetched.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(fetched.status().message(), HasSubstr(server_.host()));
  EXPECT_THAT(fetched.status().message(), HasSubstr("library/alpine"));
  EXPECT_THAT(fetched.status().message(), HasSubstr("authentication required"));
}

TEST_F(BearerTest, PingWithoutRepositoryScope) {
  server_.Handle("/v2/", [this](const FakeRequest& request) {
    if (request.Header("authorization") != "Bearer tok-1") {
      return Unauthorized(absl::StrCat(R"(Bearer realm="http://)", server_.host(),
                                       R"(/token",service="fake-registry")"));
    }
    return Json("{}");
  });
  ServeTokens([](const FakeRequest&) { return Json(R"({"token":"tok-1"})"); });
  RegistryClient client = Client(server_);
  absl::Status status = client.Ping();
  ASSERT_TRUE(status.ok()) << status;
  std::vector<FakeRequest> tokens = server_.Requests("/token");
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0].query, "service=fake-registry");
}

TEST(RegistryClientTest, BasicAuth) {
  FakeServer server;
  server.Handle(kManifestPath, [](const FakeRequest& request) {
    if (request.Header("authorization") != Basic("alice", "secret")) {
      return Unauthorized(R"(Basic realm="fake registry")");
    }
    return ManifestResponse();
  });
  RegistryClient client = Client(server, RegistryAuth{"alice", "secret"});
  ASSERT_TRUE(client.GetManifest(kRepository, "latest").ok());
  ASSERT_TRUE(client.GetManifest(kRepository, "latest").ok());
  EXPECT_EQ(server.Count(kManifestPath), 3);  // the second sends credentials up front

  RegistryClient wrong = Client(server, RegistryAuth{"alice", "guess"});
  auto fetched = wrong.GetManifest(kRepository, "latest");
  EXPECT_EQ(fetched.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(fetched.status().message(), HasSubstr(server.host()));
  EXPECT_THAT(fetched.status().message(), HasSubstr("library/alpine"));

  RegistryClient anonymous = Client(server);
  fetched = anonymous.GetManifest(kRepository, "latest");
  EXPECT_EQ(fetched.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(fetched.status().message(), HasSubstr("none are set"));
}

TEST(RegistryClientTest, ForbiddenIsPermissionDenied) {
  FakeServer server;
  server.Handle(kManifestPath, [](const FakeRequest&) {
    FakeResponse response;
    response.status = 403;
    response.body = R"({"errors":[{"code":"DENIED","message":"requested access is denied"}]})";
    return response;
  });
  RegistryClient client = Client(server);
  auto fetched = client.GetManifest(kRepository, "latest");
  EXPECT_EQ(fetched.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(fetched.status().message(), HasSubstr("DENIED: requested access is denied"));
}

TEST(RegistryClientTest, PingPlainRegistry) {
  FakeServer server;
  server.Handle("/v2/", [](const FakeRequest&) {
    FakeResponse response;
    response.body = "{}";
    return response;
  });
  EXPECT_TRUE(Client(server).Ping().ok());
  FakeServer not_a_registry;
  EXPECT_EQ(Client(not_a_registry).Ping().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ocid
