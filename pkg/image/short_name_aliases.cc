#include "pkg/image/short_name_aliases.h"

#include "absl/strings/str_cat.h"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"
#include "pkg/image/registries_conf.h"

namespace ocid {
namespace {

constexpr size_t kMaxCacheBytes = 4 << 20;

}  // namespace

std::unique_ptr<ShortNameAliasCache> ShortNameAliasCache::ReadOnly(
    std::map<std::string, std::string> aliases) {
  return std::unique_ptr<ShortNameAliasCache>(new ShortNameAliasCache("", std::move(aliases)));
}

absl::StatusOr<std::unique_ptr<ShortNameAliasCache>> ShortNameAliasCache::Open(
    const std::string& path) {
  std::map<std::string, std::string> aliases;
  absl::StatusOr<std::string> text = ReadFileToString(path, kMaxCacheBytes);
  if (text.ok()) {
    // The same syntax as registries.conf's [aliases] (and the same checks);
    // anything else in the file is not ours.
    RegistriesConf defaults;
    ASSIGN_OR_RETURN(RegistriesConf parsed, ParseRegistriesConf(*text, path));
    if (parsed.unqualified_search_registries != defaults.unqualified_search_registries ||
        parsed.short_name_mode != defaults.short_name_mode || !parsed.registries.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": a short-name alias cache holds only an [aliases] table"));
    }
    aliases = std::move(parsed.aliases);
  } else if (!absl::IsNotFound(text.status())) {
    return text.status();
  }
  return std::unique_ptr<ShortNameAliasCache>(new ShortNameAliasCache(path, std::move(aliases)));
}

std::map<std::string, std::string> ShortNameAliasCache::Aliases() const {
  absl::MutexLock lock(&mu_);
  return aliases_;
}

absl::Status ShortNameAliasCache::Record(const std::string& name, const std::string& repository) {
  if (path_.empty()) return absl::FailedPreconditionError("a read-only alias cache is not written");
  absl::MutexLock lock(&mu_);
  std::map<std::string, std::string> updated = aliases_;
  updated[name] = repository;
  // Names and repositories are valid references: no quote or backslash
  // needs escaping.
  std::string text =
      "# Written by ocid: short names resolved through the search registries.\n"
      "[aliases]\n";
  for (const auto& [short_name, target] : updated) {
    absl::StrAppend(&text, "\"", short_name, "\" = \"", target, "\"\n");
  }
  RETURN_IF_ERROR(WriteFileAtomically(path_, text, 0644));
  aliases_ = std::move(updated);
  return absl::OkStatus();
}

}  // namespace ocid
