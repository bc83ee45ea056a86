// Crash-injection points for testing deployd's crash safety (the technique
// of FreeBSD's fail(9) and TiKV's fail-rs, reduced to one action: die).
//
// `DEPLOYD_FAILPOINTS="after-commit:3,after-spawn"` makes the process kill
// itself with SIGKILL the 3rd time it passes `after-commit`, or the first
// time it passes `after-spawn`. Unset (the normal case) costs one branch.
// Points are listed in docs/deployd.md ("Crash safety").
#pragma once

namespace dpl::runtime {

/// Passes the named point; dies with SIGKILL when the environment says so.
void failpoint(const char *name);

} // namespace dpl::runtime
