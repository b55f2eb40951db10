// Pins the wire shape of runtime.v1: every service method, message field
// number and enum value must match api/testdata/runtime_v1_shape.txt, a table
// taken from the upstream kubernetes/cri-api proto. A renumbered field or a
// missing RPC breaks kubelet and crictl silently; this test makes it loud.

#include <fstream>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.pb.h"
#include "api/runtime/v1/api.pb.h"
#include "gtest/gtest.h"

namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FileDescriptor;

std::set<std::string> ReadTable() {
  std::ifstream in("api/testdata/runtime_v1_shape.txt");
  EXPECT_TRUE(in.good()) << "cannot open the shape table";
  std::set<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != '#') lines.insert(line);
  }
  return lines;
}

void AddEnum(const EnumDescriptor* e, std::set<std::string>& out) {
  for (int i = 0; i < e->value_count(); ++i) {
    out.insert(absl::StrCat("enum ", e->full_name(), " ", e->value(i)->name(), " ",
                            e->value(i)->number()));
  }
}

void AddMessage(const Descriptor* m, std::set<std::string>& out) {
  if (m->options().map_entry()) return;  // map fields are listed on their owner
  for (int i = 0; i < m->field_count(); ++i) {
    out.insert(absl::StrCat("message ", m->full_name(), " ", m->field(i)->name(), " ",
                            m->field(i)->number()));
  }
  for (int i = 0; i < m->nested_type_count(); ++i) AddMessage(m->nested_type(i), out);
  for (int i = 0; i < m->enum_type_count(); ++i) AddEnum(m->enum_type(i), out);
}

std::set<std::string> DescribeCompiledApi() {
  const FileDescriptor* file = runtime::v1::VersionRequest::descriptor()->file();
  std::set<std::string> out;
  for (int s = 0; s < file->service_count(); ++s) {
    const auto* service = file->service(s);
    for (int i = 0; i < service->method_count(); ++i) {
      const auto* method = service->method(i);
      out.insert(absl::StrCat("service ", service->name(), " ", method->name(), " ",
                              method->input_type()->full_name(), " ",
                              method->output_type()->full_name(), " ",
                              method->client_streaming() ? 1 : 0, " ",
                              method->server_streaming() ? 1 : 0));
    }
  }
  for (int i = 0; i < file->message_type_count(); ++i) AddMessage(file->message_type(i), out);
  for (int i = 0; i < file->enum_type_count(); ++i) AddEnum(file->enum_type(i), out);
  return out;
}

TEST(ApiShapeTest, CompiledApiMatchesUpstreamTable) {
  const std::set<std::string> expected = ReadTable();
  const std::set<std::string> actual = DescribeCompiledApi();
  ASSERT_GT(expected.size(), 500u) << "the shape table looks truncated";
  for (const auto& line : expected) {
    EXPECT_TRUE(actual.count(line)) << "missing from api.proto: " << line;
  }
  for (const auto& line : actual) {
    EXPECT_TRUE(expected.count(line)) << "not in upstream runtime.v1: " << line;
  }
}

TEST(ApiShapeTest, PackageAndServicesAreTheRealOnes) {
  const FileDescriptor* file = runtime::v1::VersionRequest::descriptor()->file();
  EXPECT_EQ(file->package(), "runtime.v1");
  ASSERT_NE(file->FindServiceByName("RuntimeService"), nullptr);
  ASSERT_NE(file->FindServiceByName("ImageService"), nullptr);
  EXPECT_EQ(file->FindServiceByName("RuntimeService")->method_count(), 37);
  EXPECT_EQ(file->FindServiceByName("ImageService")->method_count(), 6);
}

}  // namespace
