// Plan loading and validation.
#include "runtime/plan/Plan.h"

#include "common/CanonicalJson.h"

#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/xxhash.h>

#include <cmath>
#include <set>

namespace dpl::runtime {

using llvm::json::Array;
using llvm::json::Object;
using llvm::json::Value;

const PlanState *PlanUnit::state(llvm::StringRef n) const {
  for (auto &s : states)
    if (s.name == n)
      return &s;
  return nullptr;
}
std::string stateIdentity(const PlanState &s) {
  std::string id = s.kind;
  if (s.kind == "gate" || s.kind == "verify")
    id += "|" + s.guard + "|" + canonicalJson(llvm::json::Value(llvm::json::Object(s.params)));
  else if (s.kind == "apply" || s.kind == "rollback")
    id += "|" + std::to_string(s.timeoutSeconds);
  else if (s.kind == "wait") {
    for (auto &w : s.waitsFor)
      id += "|" + w;
  } else
    id += "|" + s.name;
  return id;
}

void PlanUnit::computeMachine() {
  std::string all;
  for (auto &s : states)
    all += stateIdentity(s) + "\n" + s.next + "\n" + s.onFailure + "\n";
  char buf[24];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(llvm::xxHash64(all)));
  machine = buf;
}

std::string substituteVersion(const std::string &text, const std::string &version) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "$$") == 0) {
      out += '$';
      ++i;
    } else if (text.compare(i, 10, "${version}") == 0) {
      out += version;
      i += 9;
    } else {
      out += text[i];
    }
  }
  return out;
}

void Plan::indexUnits() {
  unitIndex.clear();
  for (size_t i = 0; i < units.size(); ++i)
    unitIndex.try_emplace(units[i].id, i);
}

const PlanUnit *Plan::unit(llvm::StringRef id) const {
  if (hasUnitIndex()) {
    auto it = unitIndex.find(id);
    return it == unitIndex.end() ? nullptr : &units[it->second];
  }
  for (auto &u : units)
    if (u.id == id)
      return &u;
  return nullptr;
}
const PlanGroup *Plan::group(llvm::StringRef n) const {
  for (auto &g : groups)
    if (g.name == n)
      return &g;
  return nullptr;
}

namespace {

const char *kindName(const Value &v) {
  switch (v.kind()) {
  case Value::Null: return "null";
  case Value::Boolean: return "a boolean";
  case Value::Number: return "a number";
  case Value::String: return "a string";
  case Value::Array: return "an array";
  case Value::Object: return "an object";
  }
  return "?";
}

/// Reads typed members and remembers the first error with its JSON path.
class Reader {
public:
  std::string error;
  bool failed() const { return !error.empty(); }

  void fail(const std::string &path, const std::string &message) {
    if (error.empty())
      error = (path.empty() ? std::string("plan") : path) + ": " + message;
  }

  const Value *member(const Object &o, const std::string &path, const char *key, bool required = true) {
    const Value *v = o.get(key);
    if (!v && required)
      fail(path, std::string("missing field `") + key + "`");
    return v;
  }
  static std::string join(const std::string &path, const char *key) {
    return path.empty() ? key : path + "." + key;
  }

  const Object *object(const Value *v, const std::string &path) {
    if (!v)
      return nullptr;
    if (auto *o = v->getAsObject())
      return o;
    fail(path, std::string("expected an object, found ") + kindName(*v));
    return nullptr;
  }
  const Array *array(const Object &o, const std::string &path, const char *key, bool required = true) {
    const Value *v = member(o, path, key, required);
    if (!v)
      return nullptr;
    if (auto *a = v->getAsArray())
      return a;
    fail(join(path, key), std::string("expected an array, found ") + kindName(*v));
    return nullptr;
  }
  std::string string(const Object &o, const std::string &path, const char *key, bool required = true) {
    const Value *v = member(o, path, key, required);
    if (!v)
      return "";
    if (auto s = v->getAsString())
      return s->str();
    fail(join(path, key), std::string("expected a string, found ") + kindName(*v));
    return "";
  }
  double number(const Object &o, const std::string &path, const char *key) {
    const Value *v = member(o, path, key);
    if (!v)
      return 0;
    if (auto d = v->getAsNumber()) {
      // Infinity too (the JSON parser reads 1e999 as it): it would print as null.
      if (*d < 0 || !std::isfinite(*d))
        fail(join(path, key), "expected a number of seconds ≥ 0");
      return *d;
    }
    fail(join(path, key), std::string("expected a number, found ") + kindName(*v));
    return 0;
  }
  bool boolean(const Object &o, const std::string &path, const char *key) {
    const Value *v = o.get(key);
    if (!v)
      return false;
    if (auto b = v->getAsBoolean())
      return *b;
    fail(join(path, key), std::string("expected a boolean, found ") + kindName(*v));
    return false;
  }
  std::vector<std::string> strings(const Object &o, const std::string &path, const char *key) {
    std::vector<std::string> out;
    const Array *a = array(o, path, key);
    if (!a)
      return out;
    for (size_t i = 0; i < a->size(); ++i) {
      if (auto s = (*a)[i].getAsString())
        out.push_back(s->str());
      else
        fail(join(path, key) + "[" + std::to_string(i) + "]",
             std::string("expected a string, found ") + kindName((*a)[i]));
    }
    return out;
  }
};

const std::set<std::string> kStateKinds = {"wait", "gate", "apply", "verify", "success", "rollback", "failed"};

} // namespace

/// Deepest nesting of arrays/objects, outside strings. llvm::json's parser
/// recurses per level, so hostile input is rejected before parsing.
static size_t jsonDepth(llvm::StringRef text) {
  size_t depth = 0, deepest = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth) {
      --depth;
    }
  }
  return deepest;
}

llvm::Expected<Plan> loadPlan(llvm::StringRef text) {
  if (jsonDepth(text) > 64)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "not a plan: JSON nested deeper than 64 levels");
  auto parsed = llvm::json::parse(text);
  if (!parsed)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "not valid JSON: %s",
                                   llvm::toString(parsed.takeError()).c_str());
  Reader r;
  Plan plan;
  const Object *root = r.object(&*parsed, "");
  if (!root)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s", r.error.c_str());
  plan.schema = r.string(*root, "", "schema");
  if (!r.failed() && plan.schema != kPlanSchema)
    r.fail("schema", "unsupported plan schema `" + plan.schema + "` (this runtime reads `" +
                         kPlanSchema + "`; recompile the policy with a matching deployc)");
  plan.hash = r.string(*root, "", "hash");

  if (const Array *envs = r.array(*root, "", "environments"))
    for (size_t i = 0; i < envs->size() && !r.failed(); ++i) {
      std::string p = "environments[" + std::to_string(i) + "]";
      const Object *o = r.object(&(*envs)[i], p);
      if (!o)
        break;
      PlanEnvironment e;
      e.name = r.string(*o, p, "name");
      e.after = r.strings(*o, p, "after");
      // Copied member by member, not copied whole and then erased: LLVM 14's
      // json::ObjectKey keeps its string when a bucket becomes a tombstone,
      // so a later copy of the object (vector growth) revived the erased
      // member from freed memory.
      for (const auto &[key, value] : *o)
        if (key != "name" && key != "after")
          e.fields.try_emplace(key, value);
      plan.environments.push_back(std::move(e));
    }
  if (const Array *groups = r.array(*root, "", "groups"))
    for (size_t i = 0; i < groups->size() && !r.failed(); ++i) {
      std::string p = "groups[" + std::to_string(i) + "]";
      const Object *o = r.object(&(*groups)[i], p);
      if (!o)
        break;
      PlanGroup g;
      g.name = r.string(*o, p, "name");
      g.owner = r.string(*o, p, "owner");
      g.members = r.strings(*o, p, "members");
      plan.groups.push_back(std::move(g));
    }
  if (const Array *services = r.array(*root, "", "services"))
    for (size_t i = 0; i < services->size() && !r.failed(); ++i) {
      std::string p = "services[" + std::to_string(i) + "]";
      const Object *o = r.object(&(*services)[i], p);
      if (!o)
        break;
      PlanService s;
      s.name = r.string(*o, p, "name");
      s.owner = r.string(*o, p, "owner");
      s.file = r.string(*o, p, "file");
      s.dependsOn = r.strings(*o, p, "depends_on");
      plan.services.push_back(std::move(s));
    }
  if (const Array *units = r.array(*root, "", "units"))
    for (size_t i = 0; i < units->size() && !r.failed(); ++i) {
      std::string p = "units[" + std::to_string(i) + "]";
      const Object *o = r.object(&(*units)[i], p);
      if (!o)
        break;
      PlanUnit u;
      u.id = r.string(*o, p, "id");
      u.service = r.string(*o, p, "service");
      u.environment = r.string(*o, p, "environment");
      if (const Object *c = r.object(r.member(*o, p, "config"), p + ".config"))
        u.config = *c;
      if (const Value *rt = r.member(*o, p, "runtime")) {
        if (rt->kind() != Value::Null && !rt->getAsObject())
          r.fail(p + ".runtime", std::string("expected an object or null, found ") + kindName(*rt));
        u.runtime = *rt;
      }
      u.waitsFor = r.strings(*o, p, "waits_for");
      if (const Value *prov = o->get("provenance"))
        u.provenance = *prov;
      if (const Array *states = r.array(*o, p, "states"))
        for (size_t j = 0; j < states->size() && !r.failed(); ++j) {
          std::string sp = p + ".states[" + std::to_string(j) + "]";
          const Object *so = r.object(&(*states)[j], sp);
          if (!so)
            break;
          PlanState s;
          s.name = r.string(*so, sp, "name");
          s.kind = r.string(*so, sp, "kind");
          if (!r.failed() && !kStateKinds.count(s.kind))
            r.fail(sp + ".kind", "unknown state kind `" + s.kind + "`");
          bool terminal = s.kind == "success" || s.kind == "failed";
          s.next = r.string(*so, sp, "next", !terminal);
          s.onFailure = r.string(*so, sp, "on_failure", false);
          // toJson leaves out an empty `next` or `on_failure`: an empty name
          // would print as a missing one (found by fuzz_plan_loader).
          for (const char *key : {"name", "next", "on_failure"})
            if (const Value *v = so->get(key); !r.failed() && v && v->getAsString() && v->getAsString()->empty())
              r.fail(sp + "." + key, "expected a state name, found an empty string");
          if (s.kind == "gate" || s.kind == "verify") {
            s.guard = r.string(*so, sp, "guard");
            if (const Object *params = r.object(r.member(*so, sp, "params"), sp + ".params"))
              s.params = *params;
          }
          if (s.kind == "apply" || s.kind == "rollback")
            s.timeoutSeconds = r.number(*so, sp, "timeout_seconds");
          if (s.kind == "wait")
            s.waitsFor = r.strings(*so, sp, "waits_for");
          s.blocksDownstream = r.boolean(*so, sp, "blocks_downstream");
          s.notify = r.boolean(*so, sp, "notify");
          s.awaitsPerson = r.boolean(*so, sp, "awaits_person");
          u.states.push_back(std::move(s));
        }
      u.computeMachine();
      plan.units.push_back(std::move(u));
    }
  if (r.failed())
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s", r.error.c_str());

  // References and uniqueness.
  std::set<std::string> envs, services, units, groups;
  for (size_t i = 0; i < plan.environments.size(); ++i)
    if (!envs.insert(plan.environments[i].name).second)
      r.fail("environments[" + std::to_string(i) + "].name", "duplicate environment `" + plan.environments[i].name + "`");
  for (auto &g : plan.groups)
    groups.insert(g.name);
  for (auto &s : plan.services)
    services.insert(s.name);
  for (size_t i = 0; i < plan.units.size(); ++i)
    if (!units.insert(plan.units[i].id).second)
      r.fail("units[" + std::to_string(i) + "].id", "duplicate unit `" + plan.units[i].id + "`");
  for (size_t i = 0; i < plan.environments.size(); ++i)
    for (size_t j = 0; j < plan.environments[i].after.size(); ++j)
      if (!envs.count(plan.environments[i].after[j]))
        r.fail("environments[" + std::to_string(i) + "].after[" + std::to_string(j) + "]",
               "unknown environment `" + plan.environments[i].after[j] + "`");
  for (size_t i = 0; i < plan.units.size(); ++i) {
    const PlanUnit &u = plan.units[i];
    std::string p = "units[" + std::to_string(i) + "]";
    if (!envs.count(u.environment))
      r.fail(p + ".environment", "unknown environment `" + u.environment + "`");
    if (!services.count(u.service))
      r.fail(p + ".service", "unknown service `" + u.service + "`");
    for (size_t j = 0; j < u.waitsFor.size(); ++j)
      if (!units.count(u.waitsFor[j]))
        r.fail(p + ".waits_for[" + std::to_string(j) + "]", "unknown unit `" + u.waitsFor[j] + "`");
    std::set<std::string> names;
    for (auto &s : u.states)
      names.insert(s.name);
    if (u.states.empty() || !u.state("succeeded"))
      r.fail(p + ".states", "the state machine has no `succeeded` state");
    for (size_t j = 0; j < u.states.size(); ++j) {
      const PlanState &s = u.states[j];
      std::string sp = p + ".states[" + std::to_string(j) + "]";
      if (!s.next.empty() && !names.count(s.next))
        r.fail(sp + ".next", "unknown state `" + s.next + "`");
      if (!s.onFailure.empty() && !names.count(s.onFailure))
        r.fail(sp + ".on_failure", "unknown state `" + s.onFailure + "`");
      for (size_t k = 0; k < s.waitsFor.size(); ++k)
        if (!units.count(s.waitsFor[k]))
          r.fail(sp + ".waits_for[" + std::to_string(k) + "]", "unknown unit `" + s.waitsFor[k] + "`");
      if (s.guard == "approval" || s.guard == "resource")
        if (auto g = s.params.getString(s.guard == "approval" ? "group" : "notify"); g && !groups.count(g->str()))
          r.fail(sp + ".params." + (s.guard == "approval" ? "group" : "notify"), "unknown group `" + g->str() + "`");
    }
  }
  if (r.failed())
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s", r.error.c_str());

  // The hash covers everything else: an edited plan is rejected.
  Value body = toJson(plan);
  body.getAsObject()->erase("hash");
  std::string actual = sha256Of(body);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  // Fuzz builds (fuzz/) accept any hash so that mutated plans get past this
  // check: anyone can recompute a SHA-256, so nothing behind it is safer.
  plan.hash = actual;
#endif
  if (actual != plan.hash)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "hash: the plan's hash %s does not match its content (%s); it was "
                                   "edited or damaged after `deployc compile`",
                                   plan.hash.c_str(), actual.c_str());
  plan.indexUnits();
  return plan;
}

llvm::Expected<Plan> loadPlanFile(llvm::StringRef path) {
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buf)
    return llvm::createStringError(buf.getError(), "cannot read %s: %s", path.str().c_str(),
                                   buf.getError().message().c_str());
  auto plan = loadPlan((*buf)->getBuffer());
  if (!plan)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s: %s", path.str().c_str(),
                                   llvm::toString(plan.takeError()).c_str());
  return plan;
}

Value toJson(const Plan &plan) {
  Array envs;
  for (auto &e : plan.environments) {
    Object o = e.fields;
    o["name"] = e.name;
    Array after;
    for (auto &a : e.after)
      after.push_back(a);
    o["after"] = std::move(after);
    envs.push_back(std::move(o));
  }
  Array groups;
  for (auto &g : plan.groups) {
    Array members;
    for (auto &m : g.members)
      members.push_back(m);
    groups.push_back(Object{{"name", g.name}, {"owner", g.owner}, {"members", std::move(members)}});
  }
  Array services;
  for (auto &s : plan.services) {
    Array deps;
    for (auto &d : s.dependsOn)
      deps.push_back(d);
    services.push_back(Object{{"name", s.name}, {"owner", s.owner}, {"file", s.file}, {"depends_on", std::move(deps)}});
  }
  Array units;
  for (auto &u : plan.units) {
    Array waits, states;
    for (auto &w : u.waitsFor)
      waits.push_back(w);
    for (auto &s : u.states) {
      Object so{{"name", s.name}, {"kind", s.kind}};
      if (!s.next.empty())
        so["next"] = s.next;
      if (!s.onFailure.empty())
        so["on_failure"] = s.onFailure;
      if (s.kind == "gate" || s.kind == "verify") {
        so["guard"] = s.guard;
        Object params = s.params;
        so["params"] = std::move(params);
      }
      if (s.kind == "apply" || s.kind == "rollback") {
        double t = s.timeoutSeconds;
        // Whole seconds as an integer, if they fit one (int64_t(t) overflows
        // beyond 2^63: found by fuzz_plan_loader).
        so["timeout_seconds"] = t < 0x1p63 && t == double(int64_t(t)) ? Value(int64_t(t)) : Value(t);
      }
      if (s.kind == "wait") {
        Array w;
        for (auto &x : s.waitsFor)
          w.push_back(x);
        so["waits_for"] = std::move(w);
      }
      if (s.blocksDownstream)
        so["blocks_downstream"] = true;
      if (s.notify)
        so["notify"] = true;
      if (s.awaitsPerson)
        so["awaits_person"] = true;
      states.push_back(std::move(so));
    }
    Object config = u.config;
    Object uo{{"id", u.id}, {"service", u.service}, {"environment", u.environment},
              {"config", std::move(config)}, {"runtime", u.runtime}, {"waits_for", std::move(waits)},
              {"states", std::move(states)}};
    if (u.provenance.kind() != Value::Null)
      uo["provenance"] = u.provenance;
    units.push_back(std::move(uo));
  }
  return Object{{"schema", plan.schema}, {"hash", plan.hash},       {"environments", std::move(envs)},
                {"groups", std::move(groups)}, {"services", std::move(services)}, {"units", std::move(units)}};
}

} // namespace dpl::runtime
