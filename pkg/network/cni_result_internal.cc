#include "pkg/network/cni_result_internal.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ocid {
namespace cni_internal {
namespace {

constexpr size_t kMaxMessageOutput = 2048;

bool IsIpv4(const std::string& ip) {
  in_addr address;
  return ::inet_pton(AF_INET, ip.c_str(), &address) == 1;
}

std::string StringField(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string Shortened(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (text.size() <= kMaxMessageOutput) return std::string(text);
  return absl::StrCat(text.substr(0, kMaxMessageOutput), "...");
}

}  // namespace

std::vector<std::string> ResultIps(const nlohmann::json& result) {
  std::vector<std::string> ips;
  if (!result.is_object()) return ips;
  auto add = [&ips](const std::string& cidr) {
    std::string ip = cidr.substr(0, cidr.find('/'));
    if (!ip.empty() && std::find(ips.begin(), ips.end(), ip) == ips.end()) ips.push_back(ip);
  };
  auto list = result.find("ips");
  if (list != result.end() && list->is_array()) {
    for (const nlohmann::json& entry : *list) {
      if (entry.is_object()) add(StringField(entry, "address"));
    }
  }
  for (const char* key : {"ip4", "ip6"}) {
    auto legacy = result.find(key);
    if (legacy != result.end() && legacy->is_object()) add(StringField(*legacy, "ip"));
  }
  std::stable_partition(ips.begin(), ips.end(), IsIpv4);
  return ips;
}

std::string PluginFailureMessage(const std::string& plugin, const PluginRun& run) {
  nlohmann::json error = nlohmann::json::parse(run.stdout_text, nullptr, false);
  if (error.is_object() && (error.contains("code") || error.contains("msg"))) {
    auto code = error.find("code");
    std::string code_text = code != error.end() && code->is_number_integer()
                                ? std::to_string(code->get<int64_t>())
                                : "?";
    std::string message = absl::StrCat("CNI plugin ", plugin, " failed (code ", code_text,
                                       "): ", StringField(error, "msg"));
    std::string details = StringField(error, "details");
    if (!details.empty()) absl::StrAppend(&message, ": ", details);
    return message;
  }
  std::string output = Shortened(run.stderr_text);
  if (output.empty()) output = Shortened(run.stdout_text);
  if (output.empty()) output = "no output";
  return absl::StrCat("CNI plugin ", plugin, " failed (exit status ", run.exit_code, "): ", output);
}

int CompareCniVersions(absl::string_view a, absl::string_view b) {
  std::vector<absl::string_view> left = absl::StrSplit(a, '.');
  std::vector<absl::string_view> right = absl::StrSplit(b, '.');
  for (size_t i = 0; i < std::max(left.size(), right.size()); ++i) {
    int x = 0, y = 0;
    if (i < left.size() && !absl::SimpleAtoi(left[i], &x)) x = 0;
    if (i < right.size() && !absl::SimpleAtoi(right[i], &y)) y = 0;
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

}  // namespace cni_internal
}  // namespace ocid
