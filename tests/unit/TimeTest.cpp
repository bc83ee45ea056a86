// common/Time: the one reading of timestamps and durations that deployc
// and deployd share (issue 10, item 16).
#include "common/Time.h"

#include <gtest/gtest.h>

using namespace dpl;

TEST(Time, Rfc3339AcceptsWhatTheRfcAllows) {
  EXPECT_EQ(parseRfc3339("2026-01-01T00:00:00Z"), 1767225600000);
  EXPECT_EQ(parseRfc3339("2026-01-01t00:00:00z"), 1767225600000);
  EXPECT_EQ(parseRfc3339("2026-01-01T01:30:00+01:30"), 1767225600000);
  EXPECT_EQ(parseRfc3339("2025-12-31T19:00:00-05:00"), 1767225600000);
  EXPECT_EQ(parseRfc3339("2026-01-01T00:00:00.250Z"), 1767225600250);
  EXPECT_EQ(parseRfc3339("2026-01-01T00:00:00.2Z"), 1767225600200);
  EXPECT_EQ(parseRfc3339("2028-02-29T00:00:00Z").has_value(), true); // leap year
  EXPECT_EQ(parseRfc3339("2016-12-31T23:59:60Z"), parseRfc3339("2017-01-01T00:00:00Z")); // leap second
}

TEST(Time, Rfc3339RejectsWhatItDoesNot) {
  for (const char *bad : {"2026-02-31T00:00:00Z", "2027-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
                          "2026-01-01 00:00:00Z", "2026-01-01T00:00:00", "2026-01-01T24:00:00Z",
                          "2026-01-01T00:00:00+0100", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00Zjunk",
                          "", "2026-1-01T00:00:00Z"})
    EXPECT_FALSE(parseRfc3339(bad).has_value()) << bad;
}

TEST(Time, FormatIsUtcWholeSeconds) {
  EXPECT_EQ(formatRfc3339(1767225600250), "2026-01-01T00:00:00Z");
  EXPECT_EQ(formatRfc3339(-1), "1969-12-31T23:59:59Z");
}

TEST(Time, Durations) {
  EXPECT_EQ(parseDurationText("500ms"), 500);
  EXPECT_EQ(parseDurationText("30s"), 30000);
  EXPECT_EQ(parseDurationText("30"), 30000);
  EXPECT_EQ(parseDurationText("2m"), 120000);
  EXPECT_EQ(parseDurationText("1h"), 3600000);
  for (const char *bad : {"", "s", "-1s", "1.5s", "1d", "99999999999999s"})
    EXPECT_FALSE(parseDurationText(bad).has_value()) << bad;
}
