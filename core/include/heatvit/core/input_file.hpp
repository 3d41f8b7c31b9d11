// Reading files given by the user: only regular files, within a size limit, with the
// operating system's reason when they cannot be read.
#pragma once

#include <cstdint>
#include <string>

namespace heatvit {

/// Largest JSON input (config, preset, schedule, run config) read: 16 MiB.
inline constexpr std::uint64_t kMaxJsonFileBytes = std::uint64_t{16} << 20;
/// Largest binary container (.hvt weights or masks) read: 1 GiB.
inline constexpr std::uint64_t kMaxContainerBytes = std::uint64_t{1} << 30;

/// The whole content of `path`. Throws InputError naming `path` when it does not
/// exist, is a directory, is not a regular file (device, FIFO, socket: they are never
/// read, so /dev/zero cannot exhaust memory), is larger than `max_bytes`, or cannot be
/// read (the message carries strerror(errno)).
std::string read_input_file(const std::string& path, std::uint64_t max_bytes);

/// Throws InputError naming `path` unless it is a regular file (or a symbolic link to
/// one): "is a directory", "is not a regular file", or the OS error when absent.
void require_regular_file(const std::string& path);

}  // namespace heatvit
