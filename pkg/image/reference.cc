#include "pkg/image/reference.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "pkg/base/status_macros.h"
#include "pkg/storage/digest.h"
#include "re2/re2.h"

namespace ocid {
namespace {

// distribution's NameTotalLengthMax. We apply it to the normalized name, not
// the text as typed, so that String() of a parsed reference always parses.
constexpr size_t kMaxNameLength = 255;
constexpr char kDockerHub[] = "docker.io";
constexpr char kLegacyDockerHub[] = "index.docker.io";

// The patterns come from the distribution reference grammar. Function-local
// statics: built once, never mutated, never destroyed (RE2 is not trivial).
const RE2& HostPattern() {
  static const RE2* const pattern = new RE2(
      "(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
      "(?:\\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
      "|\\[[a-fA-F0-9:]+\\])"
      "(?::([0-9]+))?");
  return *pattern;
}

const RE2& PathComponentPattern() {
  static const RE2* const pattern = new RE2("[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*");
  return *pattern;
}

const RE2& TagPattern() {
  static const RE2* const pattern = new RE2("[\\w][\\w.-]{0,127}");
  return *pattern;
}

re2::StringPiece Piece(absl::string_view s) { return re2::StringPiece(s.data(), s.size()); }

// The user's text is quoted escaped: it may be anything a kubelet was sent.
absl::Status Invalid(absl::string_view text, absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid image reference \"", absl::CHexEscape(text), "\": ", problem));
}

// Docker's rule for telling "host/repo" from "namespace/repo".
bool LooksLikeRegistry(absl::string_view component) {
  return component.find_first_of(".:") != absl::string_view::npos || component == "localhost";
}

// The pieces of a reference before validation; has_* tell "a:" (an empty
// tag) from "a" (no tag).
struct RawReference {
  absl::string_view registry;  // "" when the text names none
  absl::string_view path;
  absl::string_view tag;
  absl::string_view digest;
  bool has_tag = false;
  bool has_digest = false;
};

RawReference Split(absl::string_view text) {
  RawReference raw;
  size_t at = text.find('@');
  if (at != absl::string_view::npos) {
    raw.has_digest = true;
    raw.digest = text.substr(at + 1);
    text = text.substr(0, at);
  }
  // A tag's ':' follows the last '/'; an earlier one is a registry port.
  size_t colon = text.rfind(':');
  size_t slash = text.rfind('/');
  if (colon != absl::string_view::npos && (slash == absl::string_view::npos || colon > slash)) {
    raw.has_tag = true;
    raw.tag = text.substr(colon + 1);
    text = text.substr(0, colon);
  }
  size_t first_slash = text.find('/');
  if (first_slash != absl::string_view::npos && LooksLikeRegistry(text.substr(0, first_slash))) {
    raw.registry = text.substr(0, first_slash);
    text = text.substr(first_slash + 1);
  }
  raw.path = text;
  return raw;
}

absl::Status CheckRegistry(absl::string_view text, absl::string_view registry) {
  std::string port;
  if (!RE2::FullMatch(Piece(registry), HostPattern(), &port)) {
    return Invalid(text, absl::StrCat("registry \"", absl::CHexEscape(registry),
                                      "\" is not a host name, IPv4 or [IPv6] address"));
  }
  int number = 0;
  if (!port.empty() && (!absl::SimpleAtoi(port, &number) || number < 1 || number > 65535)) {
    return Invalid(text, absl::StrCat("registry port \"", port, "\" is out of range"));
  }
  return absl::OkStatus();
}

absl::Status CheckPath(absl::string_view text, absl::string_view path) {
  if (path.empty()) return Invalid(text, "repository name is missing");
  for (absl::string_view component : absl::StrSplit(path, '/')) {
    if (component.empty()) {
      return Invalid(text, "repository has an empty path component");
    }
    for (char ch : component) {
      if (absl::ascii_isupper(ch)) return Invalid(text, "repository must be lowercase");
    }
    if (!RE2::FullMatch(Piece(component), PathComponentPattern())) {
      return Invalid(text, absl::StrCat("repository path component \"", absl::CHexEscape(component),
                                        "\" is invalid"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckTagAndDigest(absl::string_view text, const RawReference& raw) {
  if (raw.has_tag && raw.tag.empty()) return Invalid(text, "tag is empty");
  if (raw.has_tag && !RE2::FullMatch(Piece(raw.tag), TagPattern())) {
    return Invalid(text, absl::StrCat("tag \"", absl::CHexEscape(raw.tag),
                                      "\" is invalid (want [A-Za-z0-9_][A-Za-z0-9_.-]{0,127})"));
  }
  if (raw.has_digest) {
    absl::Status digest = ParseDigest(raw.digest).status();
    if (!digest.ok()) return Invalid(text, digest.message());
  }
  return absl::OkStatus();
}

}  // namespace

std::string ImageReference::Name() const { return absl::StrCat(registry, "/", repository); }

std::string ImageReference::String() const {
  std::string out = Name();
  if (!tag.empty()) absl::StrAppend(&out, ":", tag);
  if (!digest.empty()) absl::StrAppend(&out, "@", digest);
  return out;
}

absl::StatusOr<ImageReference> ParseImageReference(absl::string_view text) {
  if (text.empty()) return Invalid(text, "it is empty");
  RawReference raw = Split(text);
  if (!raw.registry.empty()) RETURN_IF_ERROR(CheckRegistry(text, raw.registry));
  RETURN_IF_ERROR(CheckPath(text, raw.path));
  RETURN_IF_ERROR(CheckTagAndDigest(text, raw));

  ImageReference ref;
  ref.registry = std::string(raw.registry);
  if (ref.registry.empty() || ref.registry == kLegacyDockerHub) ref.registry = kDockerHub;
  ref.repository = std::string(raw.path);
  // Docker Hub keeps its official images under "library/".
  if (ref.registry == kDockerHub && ref.repository.find('/') == std::string::npos) {
    ref.repository = absl::StrCat("library/", ref.repository);
  }
  ref.tag = std::string(raw.tag);
  ref.digest = std::string(raw.digest);
  if (!raw.has_tag && !raw.has_digest) ref.tag = "latest";
  if (ref.Name().size() > kMaxNameLength) {
    return Invalid(text, absl::StrCat("name \"", ref.Name(), "\" is longer than ", kMaxNameLength,
                                      " characters"));
  }
  return ref;
}

bool IsShortName(absl::string_view text) {
  absl::string_view name = text.substr(0, text.find('@'));
  size_t slash = name.find('/');
  return slash == absl::string_view::npos || !LooksLikeRegistry(name.substr(0, slash));
}

std::string RepositoryAsTyped(absl::string_view text) {
  RawReference raw = Split(text);
  return raw.registry.empty() ? std::string(raw.path) : absl::StrCat(raw.registry, "/", raw.path);
}

bool TypedWithTagOrDigest(absl::string_view text) {
  RawReference raw = Split(text);
  return raw.has_tag || raw.has_digest;
}

}  // namespace ocid
