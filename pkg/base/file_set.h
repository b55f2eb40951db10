// For tests' fakes: a set of names kept as files in a dir, so that what a
// forked child made (a crash test: the child dies at a crash point) is what
// the parent sees. Not thread-safe; the fakes lock around it.
#ifndef OCID_PKG_BASE_FILE_SET_H_
#define OCID_PKG_BASE_FILE_SET_H_

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>

namespace ocid {

class FileSet {
 public:
  // Creates `dir` (and its parents) if missing.
  explicit FileSet(std::string dir) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
  }

  void insert(const std::string& name) { std::ofstream(Path(name)) << name; }
  void erase(const std::string& name) { std::filesystem::remove(Path(name)); }
  size_t count(const std::string& name) const { return std::filesystem::exists(Path(name)); }
  size_t size() const {
    auto entries = std::filesystem::directory_iterator(dir_);
    return static_cast<size_t>(std::distance(begin(entries), end(entries)));
  }
  bool empty() const { return size() == 0; }
  void clear() {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }

 private:
  // Names may be long paths: a file named by a hash of each.
  std::string Path(const std::string& name) const {
    return dir_ + "/" + std::to_string(std::hash<std::string>{}(name));
  }

  const std::string dir_;
};

}  // namespace ocid

#endif  // OCID_PKG_BASE_FILE_SET_H_
