#include "pkg/image/pinned_images.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ocid {

absl::StatusOr<PinnedImages> PinnedImages::Parse(const std::vector<std::string>& patterns) {
  PinnedImages pinned;
  for (const std::string& pattern : patterns) {
    absl::string_view text = pattern;
    Kind kind = Kind::kExact;
    if (text.size() >= 2 && text.front() == '*' && text.back() == '*') {
      kind = Kind::kKeyword;
      text = text.substr(1, text.size() - 2);
    } else if (!text.empty() && text.back() == '*') {
      kind = Kind::kPrefix;
      text.remove_suffix(1);
    }
    if (text.empty() || absl::StrContains(text, '*')) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ocid.image.pinned_images: \"", pattern,
          "\" is neither a name, NAME* nor *WORD* (a wildcard only at the ends, around text)"));
    }
    pinned.patterns_.push_back({kind, std::string(text)});
  }
  return pinned;
}

bool PinnedImages::Matches(absl::string_view name) const {
  for (const Pattern& p : patterns_) {
    switch (p.kind) {
      case Kind::kExact:
        if (name == p.text) return true;
        break;
      case Kind::kPrefix:
        if (absl::StartsWith(name, p.text)) return true;
        break;
      case Kind::kKeyword:
        if (absl::StrContains(name, p.text)) return true;
        break;
    }
  }
  return false;
}

bool PinnedImages::Pins(const ImageRecord& image) const {
  if (patterns_.empty()) return false;
  if (Matches(image.id.String())) return true;
  for (const std::string& tag : image.repo_tags) {
    if (Matches(tag)) return true;
  }
  for (const std::string& digest : image.repo_digests) {
    if (Matches(digest)) return true;
  }
  return false;
}

}  // namespace ocid
