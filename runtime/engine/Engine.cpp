// The engine's decision function: the unit state machine of the plan,
// driven by observations.
#include "runtime/engine/Engine.h"

#include <date/tz.h>
#include <llvm/ADT/StringRef.h>

#include <ctime>
#include <unordered_map>

namespace dpl::runtime {

const char *phaseName(RunPhase p) {
  switch (p) {
  case RunPhase::Waiting: return "waiting";
  case RunPhase::Gated: return "gated";
  case RunPhase::Applying: return "applying";
  case RunPhase::Verifying: return "verifying";
  case RunPhase::Succeeded: return "succeeded";
  case RunPhase::RollingBack: return "rolling-back";
  case RunPhase::RolledBack: return "rolled-back";
  case RunPhase::RollbackFailed: return "rollback-failed";
  case RunPhase::Halted: return "halted";
  }
  return "?";
}

std::string Action::key() const {
  static const char *names[] = {"apply", "rollback", "notify", "run-test"};
  return std::string(names[static_cast<int>(kind)]) + "|" + unit + "|" + release + "|" + version + "|" + detail;
}

namespace {

bool finished(RunPhase p) {
  return p == RunPhase::Succeeded || p == RunPhase::RolledBack || p == RunPhase::RollbackFailed ||
         p == RunPhase::Halted;
}
bool started(RunPhase p) { return p != RunPhase::Waiting && p != RunPhase::Gated; }

double number(const llvm::json::Object &o, const char *key, double fallback = 0) {
  if (auto v = o.getNumber(key))
    return *v;
  return fallback;
}
std::string text(const llvm::json::Object &o, const char *key) {
  if (auto v = o.getString(key))
    return v->str();
  return "";
}

constexpr llvm::StringLiteral kWaitingFor("waiting for ");

/// "api@prod-eu" → "api" (unit ids are SERVICE@ENV).
llvm::StringRef serviceOf(llvm::StringRef unitId) { return unitId.split('@').first; }

class Stepper {
public:
  Stepper(const Plan &plan, const Observations &obs, int64_t now, StepResult &out)
      : plan_(plan), obs_(obs), now_(now), out_(out) {
    // Releases by id and by service, in release order: a step costs
    // O(units + releases), not O(units × releases).
    const std::vector<Release> &rs = out_.state.releases;
    for (size_t i = 0; i < rs.size(); ++i) {
      byId_[rs[i].id] = i;
      byService_[rs[i].service].push_back(i);
    }
    // What the state and the observations hold for each unit, by unit
    // index: every later lookup is an array access, not a search of a map
    // keyed by unit-id strings (with 200 000 units, ~18 string comparisons).
    if (!plan_.hasUnitIndex()) {
      for (size_t i = 0; i < plan_.units.size(); ++i)
        ownIndex_.try_emplace(plan_.units[i].id, i);
      index_ = &ownIndex_;
    }
    slots_.resize(plan_.units.size());
    for (auto &[id, run] : out_.state.runs)
      if (size_t i = unitIndex(id); i != kNoUnit)
        slots_[i].run = &run;
    for (auto &[id, version] : out_.state.lastGood)
      if (size_t i = unitIndex(id); i != kNoUnit)
        slots_[i].lastGood = &version;
    for (auto &[id, release] : out_.state.lastGoodRelease)
      if (size_t i = unitIndex(id); i != kNoUnit)
        slots_[i].lastGoodRelease = &release;
    for (auto &[id, o] : obs_.units)
      if (size_t i = unitIndex(id); i != kNoUnit)
        slots_[i].observed = &o;
  }

  void run() {
    for (const PlanUnit &u : plan_.units)
      advance(u);
  }

private:
  static constexpr size_t kNoUnit = size_t(-1);
  /// A unit's entries in the state and the observations (null: none).
  /// std::map nodes do not move, so the pointers stay valid while entries
  /// are added; every write that adds one goes through the setters below.
  struct Slot {
    UnitRun *run = nullptr;
    std::string *lastGood = nullptr, *lastGoodRelease = nullptr;
    const UnitObservation *observed = nullptr;
  };

  size_t unitIndex(llvm::StringRef id) const {
    auto it = index_->find(id);
    return it == index_->end() ? kNoUnit : it->second;
  }
  size_t indexOfUnit(const PlanUnit &u) const { return size_t(&u - plan_.units.data()); }
  Slot &slot(const PlanUnit &u) { return slots_[indexOfUnit(u)]; }
  const Slot &slot(const PlanUnit &u) const { return slots_[indexOfUnit(u)]; }
  /// The slot of the unit `id` that another unit waits for (null: not in
  /// the plan).
  const Slot *slotOf(llvm::StringRef id) const {
    size_t i = unitIndex(id);
    return i == kNoUnit ? nullptr : &slots_[i];
  }
  UnitRun &runFor(const PlanUnit &u) {
    Slot &sl = slot(u);
    if (!sl.run)
      sl.run = &out_.state.runs[u.id];
    return *sl.run;
  }
  std::string &lastGoodFor(const PlanUnit &u) {
    Slot &sl = slot(u);
    if (!sl.lastGood)
      sl.lastGood = &out_.state.lastGood[u.id];
    return *sl.lastGood;
  }
  std::string &lastGoodReleaseFor(const PlanUnit &u) {
    Slot &sl = slot(u);
    if (!sl.lastGoodRelease)
      sl.lastGoodRelease = &out_.state.lastGoodRelease[u.id];
    return *sl.lastGoodRelease;
  }
  const Release *release(const std::string &id) const {
    auto it = byId_.find(id);
    return it == byId_.end() ? nullptr : &out_.state.releases[it->second];
  }

  void move(const PlanUnit &u, UnitRun &run, RunPhase to, const std::string &why) {
    out_.journal.push_back({u.id, run.release, phaseName(run.phase), phaseName(to), why});
    run.phase = to;
  }
  void enter(UnitRun &run, size_t state) {
    run.state = state;
    run.enteredAtMs = now_;
    run.healthySinceMs = -1;
    run.notified = false;
    run.testStarted = false;
    run.waitingOn.clear();
  }
  size_t indexOf(const PlanUnit &u, const std::string &name) const {
    for (size_t i = 0; i < u.states.size(); ++i)
      if (u.states[i].name == name)
        return i;
    return u.states.size();
  }

  /// Could `r` still pass (or has it passed) every upstream environment of
  /// `u`? Upstream units of the same service must have succeeded with it
  /// last, or still be working on it.
  bool viable(const PlanUnit &u, const Release &r) const {
    for (const std::string &w : u.waitsFor) {
      if (serviceOf(w) != u.service)
        continue; // depends_on: another service's own progress
      const Slot *up = slotOf(w);
      if (up && up->lastGoodRelease && *up->lastGoodRelease == r.id)
        continue;
      const UnitRun *run = up ? up->run : nullptr;
      if (!run || run->release != r.id || (finished(run->phase) && run->phase != RunPhase::Succeeded))
        return false;
    }
    return true;
  }

  /// The release `u` should work on: the newest one, newer than what last
  /// succeeded here, that can still pass its upstream environments. A unit
  /// new to the plan (an environment added later) thus converges to the
  /// newest release that passed upstream, with no new release. When none
  /// can, the newest release (on which the unit shows as blocked).
  const Release *target(const PlanUnit &u) const {
    auto mine = byService_.find(u.service);
    if (mine == byService_.end())
      return nullptr;
    const std::vector<size_t> &order = mine->second;
    const Release *latest = &out_.state.releases[order.back()];
    // Releases at or before the last good one here are never chosen.
    size_t floor = 0;
    if (const std::string *good = slot(u).lastGoodRelease)
      if (auto at = byId_.find(*good); at != byId_.end())
        floor = at->second + 1;
    for (size_t k = order.size(); k-- > 0 && order[k] >= floor;)
      if (viable(u, out_.state.releases[order[k]]))
        return &out_.state.releases[order[k]];
    return latest;
  }

  /// Picks the release the unit should work on. A newer release supersedes
  /// one that has not started here; a started one runs to its end first.
  void schedule(const PlanUnit &u) {
    const Release *next = target(u);
    if (!next)
      return;
    if (UnitRun *current = slot(u).run) {
      UnitRun &run = *current;
      if (run.release == next->id || (started(run.phase) && !finished(run.phase)) ||
          run.phase == RunPhase::Halted)
        return; // current, busy, or waiting for a person
      if (!finished(run.phase))
        out_.journal.push_back({u.id, run.release, phaseName(run.phase), "superseded",
                                "release " + next->id + " replaces this one, which had not started here"});
    }
    UnitRun fresh;
    fresh.release = next->id;
    fresh.version = next->version;
    const std::string *good = slot(u).lastGood;
    fresh.previousVersion = good ? *good : "";
    fresh.enteredAtMs = now_;
    runFor(u) = std::move(fresh);
    out_.journal.push_back({u.id, next->id, "-", "waiting", "release " + next->id + " (" + next->version + ")"});
  }

  /// Has `w`, which `u` waits for, positively succeeded? The same service
  /// upstream: with this very release. Another service (`depends_on`): with
  /// its own current release.
  bool upstreamDone(const PlanUnit &u, const UnitRun &run, const std::string &w) const {
    const Slot *sl = slotOf(w);
    const UnitRun *up = sl ? sl->run : nullptr;
    if (serviceOf(w) != u.service)
      return up && up->phase == RunPhase::Succeeded;
    if (sl && sl->lastGoodRelease && *sl->lastGoodRelease == run.release)
      return true;
    return up && up->release == run.release && up->phase == RunPhase::Succeeded;
  }

  /// A disconnected unit (its adapter cannot be read) holds still, neither
  /// failed nor progressing, and its timers stop; on reconnection they
  /// resume where they were and a soak starts over. Returns true while
  /// disconnected.
  bool disconnected(const PlanUnit &u, UnitRun &run, const UnitObservation *o) {
    bool unreachable = o && !o->reachable;
    if (unreachable) {
      if (run.disconnectedSinceMs < 0) {
        run.disconnectedSinceMs = now_;
        out_.journal.push_back({u.id, run.release, phaseName(run.phase), phaseName(run.phase),
                                "disconnected: the runtime cannot be reached"});
      }
      run.waitingOn = "disconnected since " + std::to_string(run.disconnectedSinceMs);
      return true;
    }
    if (run.disconnectedSinceMs >= 0) {
      int64_t away = now_ - run.disconnectedSinceMs;
      run.enteredAtMs += away;
      run.healthySinceMs = -1;
      run.disconnectedSinceMs = -1;
      out_.journal.push_back({u.id, run.release, phaseName(run.phase), phaseName(run.phase),
                              "reconnected after " + std::to_string(away / 1000) + "s"});
    }
    return false;
  }

  void fail(const PlanUnit &u, UnitRun &run, const PlanState &s, const std::string &why) {
    size_t target = indexOf(u, s.onFailure);
    if (target >= u.states.size()) {
      move(u, run, RunPhase::Halted, why);
      return;
    }
    const PlanState &t = u.states[target];
    enter(run, target);
    if (t.kind == "rollback") {
      move(u, run, RunPhase::RollingBack, why);
      out_.actions.push_back({Action::Kind::Rollback, u.id, run.release, run.previousVersion, ""});
    } else {
      move(u, run, RunPhase::Halted, why);
    }
  }

  /// A person's fast return to the last known good version: skips the
  /// progressive steps but is journalled like every other transition, and
  /// pins the unit until `resume`.
  void manualRollback(const PlanUnit &u) {
    if (out_.state.rollbackRequests.empty())
      return;
    auto req = out_.state.rollbackRequests.find(u.id);
    if (req == out_.state.rollbackRequests.end())
      return;
    std::string who = req->second;
    out_.state.rollbackRequests.erase(req);
    const UnitRun *current = slot(u).run;
    std::string target;
    if (current)
      target = current->phase == RunPhase::Succeeded || current->phase == RunPhase::Applying ||
                       current->phase == RunPhase::Verifying || current->phase == RunPhase::Halted
                   ? current->previousVersion
                   : lastGoodFor(u);
    else
      target = lastGoodFor(u);
    UnitRun &run = runFor(u);
    if (run.release.empty())
      run.release = "-";
    run.previousVersion = target;
    enter(run, u.states.size()); // off the state machine: settled by hand
    out_.journal.push_back({u.id, run.release, phaseName(run.phase), phaseName(RunPhase::RolledBack),
                            "manual rollback by " + who + " to " + (target.empty() ? "nothing" : target) +
                                "; pinned until resumed"});
    run.phase = RunPhase::RolledBack;
    lastGoodFor(u) = target;
    out_.state.pinned[u.id] = who;
    out_.actions.push_back({Action::Kind::Rollback, u.id, run.release, target, "manual"});
  }

  void advance(const PlanUnit &u) {
    manualRollback(u);
    if (!out_.state.pinned.count(u.id))
      schedule(u);
    if (!slot(u).run)
      return;
    UnitRun &run = *slot(u).run;
    const UnitObservation *o = slot(u).observed;
    if (disconnected(u, run, o))
      return;
    // Bounded: each iteration either moves to another state or returns.
    for (size_t guard = 0; guard <= u.states.size() + 1 && !finished(run.phase); ++guard) {
      if (run.state >= u.states.size())
        return;
      const PlanState &s = u.states[run.state];
      if (s.kind == "wait") {
        for (const std::string &w : s.waitsFor) {
          // Only positive success lets a unit proceed.
          if (!upstreamDone(u, run, w)) {
            // Unchanged on most ticks: only a new text allocates.
            llvm::StringRef current(run.waitingOn);
            if (!(current.consume_front(kWaitingFor) && current == w))
              run.waitingOn = (kWaitingFor + w).str();
            return;
          }
        }
        enter(run, indexOf(u, s.next));
        move(u, run, RunPhase::Gated, "upstream units succeeded");
        continue;
      }
      if (s.kind == "gate") {
        std::string why;
        if (!gateOpen(u, run, s, why)) {
          run.waitingOn = why;
          return;
        }
        enter(run, indexOf(u, s.next));
        out_.journal.push_back({u.id, run.release, s.name, u.states[run.state].name, why});
        continue;
      }
      if (s.kind == "apply") {
        if (run.phase != RunPhase::Applying) {
          move(u, run, RunPhase::Applying, "gates passed");
          run.enteredAtMs = now_;
          out_.actions.push_back({Action::Kind::Apply, u.id, run.release, run.version, ""});
          return;
        }
        if (o && o->applyFailed)
          return fail(u, run, s, o->applyError.empty() ? "apply failed" : "apply failed: " + o->applyError);
        // Applied once the target version runs and its health is known
        // (a replica that does not listen yet is still starting).
        if (o && o->reachable && o->version == run.version && o->health != Health::Unknown) {
          enter(run, indexOf(u, s.next));
          move(u, run, RunPhase::Verifying, "version " + run.version + " observed");
          continue;
        }
        if (now_ - run.enteredAtMs > int64_t(s.timeoutSeconds * 1000))
          return fail(u, run, s, "apply timed out");
        run.waitingOn = o && !o->reachable ? "adapter unreachable" : "applying " + run.version;
        return;
      }
      if (s.kind == "verify") {
        std::string why;
        int verdict = verify(u, run, s, o, why); // 1 pass, 0 wait, -1 fail
        if (verdict < 0)
          return fail(u, run, s, why);
        if (verdict == 0) {
          run.waitingOn = why;
          return;
        }
        enter(run, indexOf(u, s.next));
        out_.journal.push_back({u.id, run.release, s.name, u.states[run.state].name, why});
        continue;
      }
      if (s.kind == "success") {
        move(u, run, RunPhase::Succeeded, "all verifications passed");
        lastGoodFor(u) = run.version;
        lastGoodReleaseFor(u) = run.release;
        return;
      }
      if (s.kind == "rollback") {
        if (o && o->reachable && o->version == run.previousVersion &&
            (run.previousVersion.empty() || o->health == Health::Healthy)) {
          enter(run, indexOf(u, s.next));
          move(u, run, RunPhase::RolledBack,
               run.previousVersion.empty() ? "stopped (no earlier version)" : "restored " + run.previousVersion);
          return;
        }
        // The rollback has its own budget, counted from its own start.
        if (now_ - run.enteredAtMs > int64_t(s.timeoutSeconds * 1000)) {
          enter(run, indexOf(u, s.onFailure));
          move(u, run, RunPhase::RollbackFailed, "rollback timed out");
          out_.actions.push_back({Action::Kind::Notify, u.id, run.release, run.version, "rollback-failed"});
          return;
        }
        run.waitingOn = "restoring " + (run.previousVersion.empty() ? "nothing" : run.previousVersion);
        return;
      }
      return; // a `failed` state: terminal
    }
  }

  bool gateOpen(const PlanUnit &u, UnitRun &run, const PlanState &s, std::string &why) {
    if (s.guard == "approval") {
      const PlanGroup *g = plan_.group(text(s.params, "group"));
      const Release *r = release(run.release);
      size_t need = size_t(number(s.params, "count", 1));
      size_t have = 0;
      auto a = obs_.approvals.find(u.id + "|" + run.release);
      if (a != obs_.approvals.end() && g)
        for (const std::string &who : a->second)
          if (std::find(g->members.begin(), g->members.end(), who) != g->members.end() &&
              (!r || who != r->createdBy))
            ++have;
      why = "approval by " + text(s.params, "group") + ": " + std::to_string(have) + "/" + std::to_string(need);
      return have >= need;
    }
    if (s.guard == "resource") {
      std::string name = substituteVersion(text(s.params, "name"), run.version);
      auto r = obs_.resources.find(name);
      if (r != obs_.resources.end() && r->second) {
        why = "resource " + name + " ready";
        return true;
      }
      why = "waiting for resource " + name;
      if (!run.notified && s.params.getString("notify")) {
        out_.actions.push_back({Action::Kind::Notify, u.id, run.release, run.version,
                                "resource " + name + " → " + text(s.params, "notify")});
        run.notified = true;
      }
      return false;
    }
    if (s.guard == "freeze") {
      int64_t from = parseInstant(text(s.params, "from")), to = parseInstant(text(s.params, "to"));
      bool frozen = from >= 0 && to >= 0 && now_ >= from && now_ < to;
      why = frozen ? "frozen until " + text(s.params, "to") : "outside the freeze";
      return !frozen;
    }
    if (s.guard == "window") {
      std::string tz = text(s.params, "tz");
      if (tz.empty())
        tz = "UTC";
      // Local wall-clock time in the window's zone, DST included (IANA rules
      // from the system tzdata).
      int minute = 0, weekday = 0;
      try {
        const date::time_zone *zone = date::locate_zone(tz);
        auto local = zone->to_local(date::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(now_)));
        auto day = date::floor<date::days>(local);
        weekday = static_cast<int>(date::weekday(day).c_encoding()); // 0 = Sunday
        minute = static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(local - day).count());
      } catch (const std::exception &) {
        why = "unknown time zone " + tz;
        return false;
      }
      static const char *days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
      auto hhmm = [&](const char *k) {
        std::string v = text(s.params, k);
        int h = 0, m = 0;
        sscanf(v.c_str(), "%d:%d", &h, &m);
        return h * 60 + m;
      };
      int from = hhmm("from"), to = hhmm("to");
      // A window across midnight belongs to the day it opens.
      bool inTime = from <= to ? (minute >= from && minute < to) : (minute >= from || minute < to);
      int day = (from > to && minute < to) ? (weekday + 6) % 7 : weekday;
      bool inDays = false;
      if (const llvm::json::Array *list = s.params.getArray("days"))
        for (const auto &d : *list)
          inDays |= d.getAsString() && *d.getAsString() == days[day];
      why = inTime && inDays ? "inside the release window" : "outside the release window";
      return inTime && inDays;
    }
    why = "unknown gate " + s.guard;
    return false;
  }

  int verify(const PlanUnit &u, UnitRun &run, const PlanState &s, const UnitObservation *o, std::string &why) {
    // Only observations of the target version count: a `healthy` left over
    // from the previous version never does.
    bool current = o && o->reachable && o->version == run.version;
    if (s.guard == "health") {
      if (current && o->health == Health::Healthy) {
        why = "healthy";
        return 1;
      }
      if (current && o->health == Health::Unhealthy) {
        why = "health check failed";
        return -1;
      }
      why = "waiting for health of " + run.version;
      return 0;
    }
    if (s.guard == "soak") {
      int64_t need = int64_t(number(s.params, "duration") * 1000);
      if (current && o->health == Health::Unhealthy) {
        why = "unhealthy during soak";
        return -1;
      }
      if (!current || o->health != Health::Healthy) {
        run.healthySinceMs = -1;
        why = "soak paused: health unknown";
        return 0;
      }
      if (run.healthySinceMs < 0)
        run.healthySinceMs = now_;
      why = "soaked " + std::to_string((now_ - run.healthySinceMs) / 1000) + "s of " + std::to_string(need / 1000) + "s";
      return now_ - run.healthySinceMs >= need ? 1 : 0;
    }
    if (s.guard == "test") {
      std::string key = u.id + "|" + run.release + "|" + s.name;
      if (!run.testStarted) {
        run.testStarted = true;
        out_.actions.push_back({Action::Kind::RunTest, u.id, run.release, run.version, s.name});
      }
      auto t = obs_.tests.find(key);
      if (t != obs_.tests.end()) {
        why = t->second ? "test passed" : "test failed";
        return t->second ? 1 : -1;
      }
      if (now_ - run.enteredAtMs > int64_t(number(s.params, "timeout", 300) * 1000)) {
        why = "test timed out";
        return -1;
      }
      why = "test running";
      return 0;
    }
    std::string key = u.id + "|" + s.name;
    if (s.guard == "metric") {
      auto m = obs_.metrics.find(key);
      if (m == obs_.metrics.end()) {
        // No data is never a pass: it fails, or waits when the guard says so.
        run.healthySinceMs = -1;
        why = "metric " + text(s.params, "query") + ": no data";
        return text(s.params, "no_data") == "wait" ? 0 : -1;
      }
      auto below = s.params.getNumber("below"), above = s.params.getNumber("above");
      bool ok = (!below || m->second < *below) && (!above || m->second > *above);
      auto show = [](double v) {
        char buf[32];
        snprintf(buf, sizeof buf, "%g", v);
        return std::string(buf);
      };
      std::string value = show(m->second);
      if (!ok) {
        why = "metric " + text(s.params, "query") + " = " + value + (below ? ", not below " : ", not above ") +
              show(below ? *below : *above);
        return -1;
      }
      if (run.healthySinceMs < 0)
        run.healthySinceMs = now_;
      int64_t need = int64_t(number(s.params, "for") * 1000);
      why = "metric " + text(s.params, "query") + " = " + value + " for " +
            std::to_string((now_ - run.healthySinceMs) / 1000) + "s of " + std::to_string(need / 1000) + "s";
      return now_ - run.healthySinceMs >= need ? 1 : 0;
    }
    if (s.guard == "alerts") {
      auto a = obs_.alerts.find(key);
      if (a == obs_.alerts.end()) {
        why = "alerts: no data";
        return -1;
      }
      if (!a->second.empty()) {
        why = "alert firing: " + a->second.front();
        return -1;
      }
      why = "no alert firing";
      return 1;
    }
    why = "unknown verification " + s.guard;
    return -1;
  }

  const Plan &plan_;
  const Observations &obs_;
  int64_t now_;
  StepResult &out_;
  std::unordered_map<std::string, size_t> byId_;                  ///< release id → index
  std::unordered_map<std::string, std::vector<size_t>> byService_; ///< service → release indices
  const llvm::StringMap<size_t> *index_ = &plan_.unitIndex;       ///< unit id → index
  llvm::StringMap<size_t> ownIndex_; ///< when the plan's index is stale
  std::vector<Slot> slots_;          ///< by unit index
};

} // namespace

int64_t parseInstant(const std::string &s) {
  struct tm tm = {};
  int y, mo, d, h, mi, sec;
  if (sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6)
    return -1;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  int64_t t = static_cast<int64_t>(timegm(&tm));
  size_t zone = s.find_first_of("Zz+-", 19);
  if (zone != std::string::npos && (s[zone] == '+' || s[zone] == '-')) {
    int oh = 0, om = 0;
    if (sscanf(s.c_str() + zone + 1, "%2d:%2d", &oh, &om) == 2)
      t -= (s[zone] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
  }
  return t * 1000;
}

StepResult step(const Plan &plan, EngineState state, const Observations &obs, int64_t nowMs) {
  StepResult out;
  out.state = std::move(state);
  Stepper(plan, obs, nowMs, out).run();
  return out;
}

} // namespace dpl::runtime
