#include "heatvit/core/input_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "heatvit/core/error.hpp"

namespace heatvit {

namespace {

std::string os_error(const std::string& what) { return what + ": " + std::strerror(errno); }

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Classifies an existing path by its stat() result; throws for anything that is not a
// regular file.
void check_kind(const std::string& path, const struct stat& st) {
  if (S_ISDIR(st.st_mode)) throw InputError(path, "", "is a directory, not a file");
  if (!S_ISREG(st.st_mode))
    throw InputError(path, "", "is not a regular file (a device, FIFO or socket is never read)");
}

}  // namespace

void require_regular_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw InputError(path, "", os_error("cannot open file"));
  check_kind(path, st);
}

std::string read_input_file(const std::string& path, std::uint64_t max_bytes) {
  require_regular_file(path);
  Fd f;
  // O_NONBLOCK: should the path have been replaced by a FIFO since the check, open()
  // does not wait for a writer.
  f.fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (f.fd < 0) throw InputError(path, "", os_error("cannot open file"));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw InputError(path, "", os_error("cannot read file"));
  check_kind(path, st);
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes)
    throw InputError(path, "", "is " + std::to_string(st.st_size) + " bytes, more than the limit of " +
                                   std::to_string(max_bytes) + " bytes for this kind of input");
  std::string out;
  out.reserve(static_cast<std::size_t>(st.st_size));
  char chunk[1 << 16];
  for (;;) {
    const ssize_t n = ::read(f.fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw InputError(path, "", os_error("cannot read file"));
    }
    if (n == 0) break;
    out.append(chunk, static_cast<std::size_t>(n));
    // The file may grow while it is read: the limit holds for what is read.
    if (out.size() > max_bytes)
      throw InputError(path, "", "grew beyond the limit of " + std::to_string(max_bytes) + " bytes while read");
  }
  return out;
}

}  // namespace heatvit
