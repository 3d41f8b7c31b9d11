#include "heatvit/core/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "heatvit/core/error.hpp"

namespace heatvit {

namespace fs = std::filesystem;

namespace {

std::string os_reason() { return std::strerror(errno); }

std::string dir_part(const std::string& path) {
  const fs::path p(path);
  return p.has_parent_path() ? p.parent_path().string() : std::string(".");
}

std::string sibling_temp(const std::string& path, const char* tag, std::size_t i) {
  const fs::path p(path);
  return (fs::path(dir_part(path)) /
          ("." + p.filename().string() + "." + tag + "." + std::to_string(::getpid()) + "." + std::to_string(i)))
      .string();
}

// Writes all of `content` to a new file `tmp` (which must not exist).
void write_new_file(const std::string& target, const std::string& tmp, const std::string& content) {
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) throw InputError(target, "", "cannot create a file in " + dir_part(target) + ": " + os_reason());
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = n < 0 ? os_reason() : "no progress";
      ::close(fd);
      ::unlink(tmp.c_str());
      throw InputError(target, "", "write failed: " + why);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) {
    const std::string why = os_reason();
    ::unlink(tmp.c_str());
    throw InputError(target, "", "write failed: " + why);
  }
}

}  // namespace

void check_output_path(const std::string& path) {
  if (path.empty()) throw InputError("<output>", "", "empty file name");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) throw InputError(path, "", "is a directory; an output must be a file name");
    if (!S_ISREG(st.st_mode))
      throw InputError(path, "", "is not a regular file (a device, FIFO or socket is never replaced by an output)");
  } else if (errno != ENOENT) {
    throw InputError(path, "", "cannot be written: " + os_reason());
  }
  const std::string dir = dir_part(path);
  struct stat ds {};
  if (::stat(dir.c_str(), &ds) != 0) {
    if (errno == ENOENT) throw InputError(path, "", "directory " + dir + " does not exist");
    throw InputError(path, "", "directory " + dir + ": " + os_reason());
  }
  if (!S_ISDIR(ds.st_mode)) throw InputError(path, "", dir + " is not a directory");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw InputError(path, "", "directory " + dir + " is not writable: " + os_reason());
}

void write_file_atomic(const std::string& path, const std::string& content) {
  OutputSet out;
  out.add(path, content);
  out.commit();
}

std::string sibling_path(const std::string& path, const std::string& suffix) {
  fs::path p(path);
  p.replace_extension();
  return p.string() + suffix;
}

void OutputSet::add(const std::string& path, std::string content) {
  items_.push_back({path, std::move(content), std::string()});
}

void OutputSet::check() const {
  std::set<std::string> seen;
  for (const auto& it : items_) {
    check_output_path(it.path);
    std::error_code ec;
    const fs::path canon = fs::weakly_canonical(it.path, ec);
    if (!seen.insert(ec ? it.path : canon.string()).second)
      throw InputError(it.path, "", "is named for two outputs of this run");
  }
}

OutputSet::~OutputSet() {
  for (const auto& it : items_)
    if (!it.ready.empty()) ::unlink(it.ready.c_str());
}

void OutputSet::add_file(const std::string& path, const std::string& ready_file) {
  items_.push_back({path, std::string(), ready_file});
}

void OutputSet::commit() {
  check();
  const std::size_t n = items_.size();
  std::vector<std::string> tmp(n), backup(n);
  auto remove_all = [](const std::vector<std::string>& files) {
    for (const auto& f : files)
      if (!f.empty()) ::unlink(f.c_str());
  };
  // 1. every new file complete under a temporary name
  try {
    for (std::size_t i = 0; i < n; ++i) {
      if (!items_[i].ready.empty()) {
        tmp[i] = items_[i].ready;
        continue;
      }
      const std::string t = sibling_temp(items_[i].path, "tmp", i);
      write_new_file(items_[i].path, t, items_[i].content);
      tmp[i] = t;
    }
  } catch (...) {
    remove_all(tmp);
    throw;
  }
  // 2. a second name for every file about to be replaced, to put it back should a
  // later rename fail (best effort: without hard links there is no way back)
  for (std::size_t i = 0; i < n; ++i) {
    const std::string b = sibling_temp(items_[i].path, "old", i);
    if (::link(items_[i].path.c_str(), b.c_str()) == 0) backup[i] = b;
  }
  // 3. rename over the targets
  for (std::size_t i = 0; i < n; ++i) {
    if (::rename(tmp[i].c_str(), items_[i].path.c_str()) != 0) {
      const std::string why = os_reason();
      for (std::size_t j = 0; j < i; ++j) {
        if (!backup[j].empty()) ::rename(backup[j].c_str(), items_[j].path.c_str());
        else ::unlink(items_[j].path.c_str());
        backup[j].clear();
      }
      for (std::size_t j = i; j < n; ++j) ::unlink(tmp[j].c_str());
      remove_all(backup);
      throw InputError(items_[i].path, "", "cannot rename into place: " + why);
    }
  }
  remove_all(backup);
  items_.clear();
}

}  // namespace heatvit
