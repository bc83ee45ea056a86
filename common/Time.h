// Time and duration text shared by the compiler and the runtime, so that
// what `deployc check` accepts is exactly what `deployd` understands
// (issue 10, item 16). Civil-calendar arithmetic comes from Howard
// Hinnant's date library (the proposal behind C++20's <chrono> calendar).
#pragma once

#include <llvm/ADT/StringRef.h>

#include <cstdint>
#include <optional>
#include <string>

namespace dpl {

/// RFC 3339 `date-time` (section 5.6): `2026-12-24T00:00:00Z`, with `T`/`t`,
/// `Z`/`z`, an optional fraction and a `±HH:MM` offset, the date checked
/// against the calendar (no 31 February) and a leap second `:60` allowed
/// (counted as the next second). Returns milliseconds since the Unix epoch
/// (UTC), or nullopt when `text` is not such a timestamp.
std::optional<int64_t> parseRfc3339(llvm::StringRef text);

/// Milliseconds → `2026-12-24T00:00:00Z` (UTC, whole seconds).
std::string formatRfc3339(int64_t ms);

/// A command-line duration: a non-negative integer with a unit `ms`, `s`,
/// `m` or `h` (`500ms`, `30s`, `2m`, `1h`); a bare integer is seconds.
/// Returns milliseconds, or nullopt when malformed or over 10 years.
std::optional<int64_t> parseDurationText(llvm::StringRef text);

} // namespace dpl
