// RFC 3339 timestamps and duration text (see Time.h).
#include "common/Time.h"

#include <date/date.h>

#include <chrono>
#include <ctime>

namespace dpl {

std::optional<int64_t> parseRfc3339(llvm::StringRef s) {
  auto digits = [&](size_t pos, size_t n) {
    if (pos + n > s.size())
      return false;
    for (size_t i = pos; i < pos + n; ++i)
      if (s[i] < '0' || s[i] > '9')
        return false;
    return true;
  };
  auto num = [&](size_t pos, size_t n) {
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i)
      v = v * 10 + (s[i] - '0');
    return v;
  };
  if (!(digits(0, 4) && s.size() >= 20 && s[4] == '-' && digits(5, 2) && s[7] == '-' && digits(8, 2) &&
        (s[10] == 'T' || s[10] == 't') && digits(11, 2) && s[13] == ':' && digits(14, 2) && s[16] == ':' &&
        digits(17, 2)))
    return std::nullopt;
  int year = num(0, 4), month = num(5, 2), day = num(8, 2);
  int hour = num(11, 2), minute = num(14, 2), second = num(17, 2);
  date::year_month_day ymd{date::year(year), date::month(unsigned(month)), date::day(unsigned(day))};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  size_t i = 19;
  int64_t fractionMs = 0;
  if (i < s.size() && s[i] == '.') {
    size_t start = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9')
      ++i;
    if (i == start)
      return std::nullopt;
    // Milliseconds from the first three digits; further digits are dropped.
    for (size_t k = 0; k < 3; ++k)
      fractionMs = fractionMs * 10 + (start + k < i ? s[start + k] - '0' : 0);
  }
  int64_t offsetMinutes = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    if (i + 1 != s.size())
      return std::nullopt;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    if (!(i + 6 == s.size() && digits(i + 1, 2) && s[i + 3] == ':' && digits(i + 4, 2)))
      return std::nullopt;
    int oh = num(i + 1, 2), om = num(i + 4, 2);
    if (oh > 23 || om > 59)
      return std::nullopt;
    offsetMinutes = (s[i] == '+' ? 1 : -1) * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  int64_t days = date::sys_days(ymd).time_since_epoch().count();
  int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60;
  return seconds * 1000 + fractionMs;
}

std::string formatRfc3339(int64_t ms) {
  std::time_t s = std::time_t(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  struct tm tm;
  gmtime_r(&s, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<int64_t> parseDurationText(llvm::StringRef s) {
  size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9')
    ++i;
  if (i == 0 || i > 12)
    return std::nullopt;
  int64_t n = 0;
  for (size_t k = 0; k < i; ++k)
    n = n * 10 + (s[k] - '0');
  llvm::StringRef unit = s.substr(i);
  int64_t scale = unit == "ms" ? 1 : unit == "s" || unit.empty() ? 1000 : unit == "m" ? 60000 : unit == "h" ? 3600000 : 0;
  if (!scale)
    return std::nullopt;
  int64_t ms = n * scale;
  if (ms > int64_t(10) * 366 * 86400 * 1000)
    return std::nullopt;
  return ms;
}

} // namespace dpl
