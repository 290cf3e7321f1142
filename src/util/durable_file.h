// Files that survive a crash, a power loss or a full disk whole: written under a temporary
// name, flushed to the disk (fsync), renamed into place, and the folder's entry flushed too.
// A reader finds either the old file or the new one, never half of one.
#pragma once

#include <functional>
#include <string>

namespace headcount {

// text -> path, as above. Throws std::runtime_error naming the file (and saying when the disk
// is full) and leaves whatever was at path untouched.
void write_file_durably(const std::string& path, const std::string& text);

// Where a producer writes its bytes: returns how many it took, always all of them (see
// write_durably).
using ByteSink = std::function<size_t(const void* data, size_t size)>;

// Writes what `produce` hands to its sink into path, durably, as write_file_durably does,
// keeping the file at path as previous_path(path) with keep_previous. The sink never tells
// the producer of a failed write, since some producers cannot take one (LibTorch's archive
// writer throws from its destructor, which ends the process): the first error is kept, the
// rest of the bytes dropped, and the error thrown once produce returns, with the
// temporary file removed and whatever was at path untouched.
void write_durably(const std::string& path, const std::function<void(const ByteSink&)>& produce,
                   bool keep_previous = false);

// Moves a complete file written at `temporary` to `path`, durably. With keep_previous the
// file that was at path first becomes previous_path(path), so one good copy exists at every
// moment, even between the two renames.
void commit_file(const std::string& temporary, const std::string& path, bool keep_previous = false);

// "checkpoint_last.pt" -> "checkpoint_last.previous.pt".
std::string previous_path(const std::string& path);

// Flushes a file, or a folder's entries, to the disk; throws naming it.
void sync_path(const std::string& path);

// A sentence for an error while writing under folder: "the disk holding F is full" when it
// is, else "".
std::string disk_full_note(const std::string& folder);

}  // namespace headcount
