#include "pkg/metrics/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "pkg/metrics/sampled_metrics.h"

namespace ocid {
namespace {

// One request for /metrics over loopback, as curl -H "Accept: ..." sends
// it; the whole response (the server closes after it).
std::string Request(int port, const std::string& method, const std::string& accept) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  std::string request =
      absl::StrCat(method, " /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
  if (!accept.empty()) absl::StrAppend(&request, "Accept: ", accept, "\r\n");
  request += "\r\n";
  EXPECT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string response;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, n);
  close(fd);
  return response;
}

std::string Get(int port, const std::string& accept) { return Request(port, "GET", accept); }

class MetricsHttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sampled = std::make_shared<SampledMetrics>([this] {
      return std::vector<Sample>{
          {"ocid_things_total", "things", prometheus::MetricType::Counter, double(things_), {}}};
    });
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
        MetricsHttpServer::Start("127.0.0.1:0", {sampled});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_GT(server_->port(), 0);
  }

  int things_ = 4;
  std::unique_ptr<MetricsHttpServer> server_;
};

TEST_F(MetricsHttpServerTest, PrometheusTextByDefault) {
  std::string response = Get(server_->port(), "");
  EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
  EXPECT_NE(response.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            std::string::npos)
      << response;
  EXPECT_NE(response.find("\r\n\r\n# HELP ocid_things_total things\n"), std::string::npos)
      << response;
  EXPECT_NE(response.find("\nocid_things_total 4\n"), std::string::npos) << response;
  EXPECT_EQ(response.find("# EOF"), std::string::npos) << response;
}

TEST_F(MetricsHttpServerTest, OpenMetricsWhenAccepted) {
  things_ = 9;  // read at the scrape
  std::string response = Get(server_->port(), "application/openmetrics-text;version=1.0.0");
  EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
  EXPECT_NE(
      response.find("Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n"),
      std::string::npos)
      << response;
  size_t body = response.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos);
  EXPECT_EQ(response.substr(body + 4),
            "# TYPE ocid_things counter\n# HELP ocid_things things\nocid_things_total 9\n# EOF\n");
  EXPECT_NE(response.find(absl::StrCat("Content-Length: ", response.size() - body - 4, "\r\n")),
            std::string::npos)
      << response;
}

// The reply is HTTP/1.0 to a 1.0 request, and the server closes after it
// (what a keep-alive client must see, as the response is written raw).
TEST_F(MetricsHttpServerTest, AnswersInTheRequestsVersionAndCloses) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string request = "GET /metrics HTTP/1.0\r\n\r\n";
  ASSERT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string response;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, n);
  close(fd);
  EXPECT_EQ(response.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << response;
  EXPECT_NE(response.find("\r\nConnection: close\r\n"), std::string::npos) << response;
  EXPECT_NE(response.find("\r\nDate: "), std::string::npos) << response;
  size_t body = response.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos);
  EXPECT_NE(response.find(absl::StrCat("Content-Length: ", response.size() - body - 4, "\r\n")),
            std::string::npos)
      << response;
}

TEST_F(MetricsHttpServerTest, HeadHasTheHeadersAndNoBody) {
  std::string response = Request(server_->port(), "HEAD", "");
  EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
  EXPECT_NE(response.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_EQ(response.find("ocid_things_total"), std::string::npos) << response;
}

TEST_F(MetricsHttpServerTest, OtherMethodsAreRefused) {
  std::string response = Request(server_->port(), "POST", "");
  EXPECT_EQ(response.rfind("HTTP/1.1 405 ", 0), 0u) << response;
  EXPECT_EQ(response.find("ocid_things_total"), std::string::npos) << response;
}

TEST(MetricsHttpServerStartTest, TakenPortIsUnavailable) {
  auto sampled = std::make_shared<SampledMetrics>([] { return std::vector<Sample>{}; });
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> first =
      MetricsHttpServer::Start("127.0.0.1:0", {sampled});
  ASSERT_TRUE(first.ok()) << first.status();
  std::string listen = absl::StrCat("127.0.0.1:", (*first)->port());
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> second =
      MetricsHttpServer::Start(listen, {sampled});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("metrics endpoint on " + listen + " cannot start"),
            std::string::npos)
      << second.status();
}

}  // namespace
}  // namespace ocid
