// Merge phase: per-unit field resolution with provenance, guard union and
// deduplication, constraint checking.
#include "compiler/merge/Merge.h"

#include "compiler/merge/Eval.h"
#include "compiler/sema/Cycles.h"

#include <llvm/ADT/SmallVector.h>
#include <llvm/ADT/StringMap.h>
#include <llvm/Support/Casting.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>
#include <set>
#include <tuple>

namespace dpl {

using namespace ast;
using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

const char *rankName(Rank r) {
  switch (r) {
  case Rank::StdlibDefault: return "stdlib default";
  case Rank::Defaults: return "defaults";
  case Rank::Service: return "service value";
  case Rank::InPredicate: return "`in` predicate override";
  case Rank::InEnvironment: return "`in` environment override";
  }
  return "?";
}

const Unit *MergeResult::unit(llvm::StringRef service, llvm::StringRef env) const {
  for (auto &u : units)
    if (u.service == service && u.environment == env)
      return &u;
  return nullptr;
}

namespace {

/// Orders values of one type for `stricter = { p: max }` merges.
int compareValues(const Value &a, const Value &b) {
  auto num = [](const Value &v) {
    switch (v.kind) {
    case Value::Kind::Int: case Value::Kind::Duration: case Value::Kind::Time: return double(v.i);
    case Value::Kind::Float: case Value::Kind::Percent: return v.f;
    default: return 0.0;
    }
  };
  double x = num(a), y = num(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

class Merger {
public:
  /// `full` false: only what diagnostics need (`deployc check`); see `full_`.
  Merger(const Model &model, DiagnosticEngine &diags, bool full, UnitSink *sink)
      : model_(model), std_(*model.stdlib), diags_(diags), eval_(std_),
        serviceSchema_(std_.schema("service")), envSchema_(std_.schema("environment")),
        full_(full || sink), sink_(sink) {}

  MergeResult run() {
    MergeResult out;
    if (!serviceSchema_ || !envSchema_)
      return out;
    buildEnvironments();
    indexFields();
    if (sink_)
      sink_->begin(model_, envValues_);
    // Units in a stable order: services by name, then environments by name.
    std::vector<const ServiceInfo *> services;
    for (auto &s : model_.services)
      services.push_back(&s);
    std::sort(services.begin(), services.end(),
              [](auto *a, auto *b) { return a->decl->name.text < b->decl->name.text; });
    std::vector<const EnvironmentInfo *> envs;
    for (auto &e : model_.environments)
      envs.push_back(&e);
    std::sort(envs.begin(), envs.end(),
              [](auto *a, auto *b) { return a->decl->name.text < b->decl->name.text; });
    numEnvs_ = envs.size();
    whenByEnv_.assign(model_.rules.size() * numEnvs_, -1);
    std::vector<const Value *> envValues;
    for (const EnvironmentInfo *e : envs)
      envValues.push_back(&envValues_[e->decl->name.text]);
    DependsOnByEnv deps(envs.size());
    for (size_t i = 0; i < envs.size(); ++i)
      deps[i].first = &envs[i]->decl->name.text;
    for (const ServiceInfo *s : services) {
      // What every unit of the service shares: computed once, not per unit.
      ServiceShared shared{serviceBase(*s), {}, {}};
      for (const RuleInfo *rule : candidateRules(s->decl->name.text)) {
        WhenDeps deps = whenDeps(*rule);
        if (deps == WhenDeps::None || deps == WhenDeps::Service) {
          // The same for every environment: decided here, once.
          EvalScope scope{envValues.empty() ? nullptr : envValues[0], &shared.base, PredScope::Rule};
          if (rule->when && !isTrue(eval_.eval(rule->when, scope)))
            continue;
        }
        shared.rules.push_back({rule, deps});
      }
      shared.fields.resize(serviceSchema_->fields.size());
      for (const Stmt *st : s->decl->body)
        if (auto *fs = dyn_cast<FieldStmt>(st))
          if (auto it = fieldIndex_.find(fs->name.text); it != fieldIndex_.end())
            shared.fields[it->second].push_back(fs);
      for (size_t i = 0; i < envs.size(); ++i) {
        Unit u = mergeUnit(*s, shared, *envs[i], *envValues[i], i);
        // A service without dependencies cannot be on a cycle: not a node.
        if (const ResolvedField *f = u.field("depends_on"); f && !f->value.items.empty()) {
          DependsOn d{&s->decl->name.text, {}, f->where.range};
          for (const Value &v : f->value.items)
            d.services.push_back(v.s);
          deps[i].second.push_back(std::move(d));
        }
        if (sink_)
          sink_->unit(std::move(u));
        else if (full_)
          out.units.push_back(std::move(u));
      }
    }
    checkDependencyCycles(deps);
    out.environments = envValues_;
    return out;
  }

private:
  // ----------------------------------------------------------- provenance
  /// Where a value, guard or constraint came from. Diagnostics need only
  /// the range and the stakeholder; the file, line and block label are for
  /// the plan and `explain`, so `check` does not build them (`block` is
  /// called only when they are).
  template <typename BlockLabel>
  Provenance provenance(const Owned &owned, llvm::SMRange range, BlockLabel block) const {
    Provenance p;
    p.stakeholder = owned.owner ? owned.owner->name : "";
    p.range = range;
    if (!full_)
      return p;
    p.file = owned.file ? owned.file->relPath : "";
    p.block = block();
    LineCol lc = diags_.sources().lineCol(range.Start);
    p.line = lc.line;
    p.column = lc.column;
    return p;
  }

  std::string sourceText(llvm::SMRange r) const {
    if (!r.Start.isValid() || !r.End.isValid() || r.End.getPointer() < r.Start.getPointer())
      return "";
    return std::string(r.Start.getPointer(), r.End.getPointer() - r.Start.getPointer());
  }

  // --------------------------------------------------------- environments
  void buildEnvironments() {
    for (auto &env : model_.environments) {
      Value v = recordOf(env.decl->name.text, "environment", *envSchema_, env.decl->body, nullptr);
      // Strings may name other environment fields: `".deploy/${env.name}"`.
      EvalScope scope{&v, nullptr, PredScope::Environment};
      envValues_[env.decl->name.text] = recordOf(env.decl->name.text, "environment", *envSchema_,
                                                 env.decl->body, &scope);
    }
  }

  /// Service schema field name → index, and the `defaults` values of each
  /// field (in declaration order), so a unit does not rescan every block
  /// for every field.
  void indexFields() {
    for (size_t i = 0; i < serviceSchema_->fields.size(); ++i)
      fieldIndex_.try_emplace(serviceSchema_->fields[i].name, unsigned(i));
    defaultsByField_.resize(serviceSchema_->fields.size());
    for (auto &d : model_.defaults)
      for (const Stmt *s : d.decl->body)
        if (auto *fs = dyn_cast<FieldStmt>(s))
          if (auto it = fieldIndex_.find(fs->name.text); it != fieldIndex_.end())
            defaultsByField_[it->second].push_back({&d, fs});
  }

  Value recordOf(const std::string &name, const char *kind, const RecordSig &schema,
                 const std::vector<Stmt *> &body, const EvalScope *subst) const {
    Value v;
    v.kind = Value::Kind::Record;
    v.s = kind;
    v.fields.push_back({"name", Value::string(name)});
    for (const FieldSig &f : schema.fields) {
      const Expr *e = f.defaultValue;
      for (const Stmt *s : body)
        if (auto *fs = dyn_cast<FieldStmt>(s); fs && fs->name.text == f.name)
          e = fs->value;
      v.fields.push_back({f.name, e ? eval_.valueOf(e, f.type, subst) : Value::null()});
    }
    return v;
  }

  /// The service as `when` conditions see it: its own values over
  /// `defaults` over stdlib defaults (no environment overrides).
  Value serviceBase(const ServiceInfo &svc) const {
    Value v;
    v.kind = Value::Kind::Record;
    v.s = "service";
    v.fields.push_back({"name", Value::string(svc.decl->name.text)});
    for (const FieldSig &f : serviceSchema_->fields) {
      const Expr *e = f.defaultValue;
      for (auto &d : model_.defaults)
        for (const Stmt *s : d.decl->body)
          if (auto *fs = dyn_cast<FieldStmt>(s); fs && fs->name.text == f.name)
            e = fs->value;
      for (const Stmt *s : svc.decl->body)
        if (auto *fs = dyn_cast<FieldStmt>(s); fs && fs->name.text == f.name)
          e = fs->value;
      v.fields.push_back({f.name, e ? eval_.valueOf(e, f.type) : Value::null()});
    }
    return v;
  }

  // ------------------------------------------------------------------ unit
  /// An `in` block that applies to the unit, with its rank.
  struct AppliedBlock {
    const InStmt *in;
    Rank rank;
    std::string label; ///< "service api, in prod-eu"; empty unless `full_`
  };

  /// What a rule's `when` reads. In rule scope a bare name is only a name,
  /// so `env` and `service` are the only inputs; a `when` that does not read
  /// `service` is decided once per environment, one that does not read
  /// `env` once per service (a `when` runs for every unit otherwise).
  enum class WhenDeps : uint8_t { None, Env, Service, Both };

  static void mentions(const Expr *e, bool &env, bool &service) {
    if (!e)
      return;
    switch (e->kind) {
    case ExprKind::Name: {
      const std::string &n = cast<NameExpr>(e)->name;
      env |= n == "env";
      service |= n == "service";
      return;
    }
    case ExprKind::Member: mentions(cast<MemberExpr>(e)->base, env, service); return;
    case ExprKind::Unary: mentions(cast<UnaryExpr>(e)->operand, env, service); return;
    case ExprKind::Binary:
      mentions(cast<BinaryExpr>(e)->lhs, env, service);
      mentions(cast<BinaryExpr>(e)->rhs, env, service);
      return;
    case ExprKind::List:
      for (const Expr *el : cast<ListExpr>(e)->elements)
        mentions(el, env, service);
      return;
    default: return; // literals, records, maps: evaluated without the scope
    }
  }

  WhenDeps whenDeps(const RuleInfo &rule) {
    auto [it, added] = whenDeps_.try_emplace(&rule, WhenDeps::None);
    if (added) {
      bool env = false, service = false;
      mentions(rule.when, env, service);
      it->second = env && service ? WhenDeps::Both : env ? WhenDeps::Env : service ? WhenDeps::Service : WhenDeps::None;
    }
    return it->second;
  }

  static bool isTrue(const Value &v) { return v.kind == Value::Kind::Bool && v.b; }

  /// Whether `rule` applies to the unit of `shared`'s service in `env`.
  bool ruleApplies(const RuleInfo &rule, WhenDeps deps, const EvalScope &scope, size_t envIndex) {
    if (!rule.when || deps == WhenDeps::None || deps == WhenDeps::Service)
      return true; // decided per service already
    if (deps == WhenDeps::Both)
      return isTrue(eval_.eval(rule.when, scope));
    int8_t &known = whenByEnv_[size_t(&rule - model_.rules.data()) * numEnvs_ + envIndex];
    if (known < 0)
      known = isTrue(eval_.eval(rule.when, scope));
    return known;
  }

  /// What every unit of one service shares.
  struct ServiceShared {
    Value base;                               ///< serviceBase()
    /// candidateRules() whose `when` may hold for some environment, with
    /// what that `when` still depends on.
    std::vector<std::pair<const RuleInfo *, WhenDeps>> rules;
    /// The service's own FieldStmts per schema field, in source order.
    std::vector<llvm::SmallVector<const FieldStmt *, 1>> fields;
  };

  /// A candidate before it is evaluated.
  struct Source {
    const Expr *expr;
    Rank rank;
    const Owned *owned;        ///< null for the stdlib default
    const AppliedBlock *block; ///< for `in` overrides
  };

  std::vector<AppliedBlock> appliedBlocks(const ServiceInfo &svc, const Value &env, const Value &base) const {
    std::vector<AppliedBlock> out;
    const std::string &envName = env.field("name")->s;
    EvalScope scope{&env, &base, PredScope::Environment};
    for (const Stmt *s : svc.decl->body) {
      auto *in = dyn_cast<InStmt>(s);
      if (!in || !in->predicate)
        continue;
      std::string label =
          full_ ? "service " + svc.decl->name.text + ", in " + sourceText(in->predicate->range) : std::string();
      if (auto *n = dyn_cast<NameExpr>(in->predicate); n && model_.environment(n->name)) {
        if (n->name == envName)
          out.push_back({in, Rank::InEnvironment, label});
        continue;
      }
      Value r = eval_.eval(in->predicate, scope);
      if (r.kind == Value::Kind::Bool && r.b)
        out.push_back({in, Rank::InPredicate, label});
    }
    return out;
  }

  Unit mergeUnit(const ServiceInfo &svc, const ServiceShared &shared, const EnvironmentInfo &envInfo,
                 const Value &env, size_t envIndex) {
    const std::string &envName = envInfo.decl->name.text;
    const Value &base = shared.base;
    Unit unit;
    unit.service = svc.decl->name.text;
    unit.environment = envName;
    std::vector<AppliedBlock> blocks = appliedBlocks(svc, env, base);
    // `${env.name}`, `${service.name}` and environment fields are known now.
    EvalScope subst{&env, &base, PredScope::Rule};

    // The FieldStmts of the applied `in` blocks, by schema field index.
    llvm::SmallVector<std::tuple<unsigned, const AppliedBlock *, const FieldStmt *>, 4> blockFields;
    for (const AppliedBlock &b : blocks)
      for (const Stmt *s : b.in->body)
        if (auto *fs = dyn_cast<FieldStmt>(s))
          if (auto it = fieldIndex_.find(fs->name.text); it != fieldIndex_.end())
            blockFields.push_back({it->second, &b, fs});

    // Fields.
    Value final;
    final.kind = Value::Kind::Record;
    final.s = "service";
    final.fields.reserve(serviceSchema_->fields.size() + 1);
    final.fields.push_back({"name", Value::string(unit.service)});
    unit.fields.reserve(serviceSchema_->fields.size());
    llvm::SmallVector<Source, 8> sources;
    for (unsigned i = 0; i < serviceSchema_->fields.size(); ++i) {
      const FieldSig &f = serviceSchema_->fields[i];
      sources.clear();
      if (f.defaultValue)
        sources.push_back({f.defaultValue, Rank::StdlibDefault, nullptr, nullptr});
      for (auto &[d, fs] : defaultsByField_[i])
        sources.push_back({fs->value, Rank::Defaults, d, nullptr});
      for (const FieldStmt *fs : shared.fields[i])
        sources.push_back({fs->value, Rank::Service, &svc, nullptr});
      for (auto &[index, b, fs] : blockFields)
        if (index == i)
          sources.push_back({fs->value, b->rank, &svc, b});
      ResolvedField rf;
      rf.name = f.name;
      if (!sources.empty()) {
        // Strongest rank wins; stable order keeps source order within a rank.
        std::stable_sort(sources.begin(), sources.end(),
                         [](const Source &a, const Source &b) { return a.rank > b.rank; });
        // The weaker candidates only show up in the plan and `explain`
        // (`overridden`): `check` evaluates the strongest rank alone, which is
        // all the conflict check looks at.
        std::vector<Candidate> cands;
        for (const Source &src : sources) {
          if (!full_ && src.rank != sources[0].rank)
            break;
          cands.push_back({fieldValue(src.expr, f.type, subst), src.rank, where(src, unit.service)});
        }
        checkConflict(f.name, cands, unit, svc);
        rf.value = std::move(cands[0].value);
        rf.rank = cands[0].rank;
        rf.where = std::move(cands[0].where);
        if (full_)
          rf.overridden.assign(std::make_move_iterator(cands.begin() + 1), std::make_move_iterator(cands.end()));
      }
      // Lent to `final` for the constraints, given back below.
      final.fields.push_back({f.name, std::move(rf.value)});
      unit.fields.push_back(std::move(rf));
    }

    // Guards: the service's, its applicable `in` blocks', applicable rules'.
    // Guards give no diagnostics, so `check` only selects the rules (their
    // constraints are checked below) and merges no guard.
    std::vector<std::pair<const RequireStmt *, Provenance>> requests;
    auto serviceLabel = [&] { return "service " + unit.service; };
    if (full_) {
      for (const Stmt *s : svc.decl->body)
        if (auto *r = dyn_cast<RequireStmt>(s))
          requests.push_back({r, provenance(svc, r->range, serviceLabel)});
      for (const AppliedBlock &b : blocks)
        for (const Stmt *s : b.in->body)
          if (auto *r = dyn_cast<RequireStmt>(s))
            requests.push_back({r, provenance(svc, r->range, [&] { return b.label; })});
    }
    EvalScope ruleScope{&env, &base, PredScope::Rule};
    std::vector<const RuleInfo *> rules;
    for (auto [rulePtr, deps] : shared.rules) {
      const RuleInfo &rule = *rulePtr;
      if (!ruleApplies(rule, deps, ruleScope, envIndex))
        continue;
      rules.push_back(&rule);
      if (full_)
        for (const Stmt *s : rule.decl->body)
          if (auto *r = dyn_cast<RequireStmt>(s))
            requests.push_back({r, provenance(rule, r->range, [&] { return "rule " + rule.decl->name.text; })});
    }
    if (full_)
      mergeGuards(unit, requests, subst);

    // Constraints over the final values.
    EvalScope finalScope{&env, &final, PredScope::Unit};
    for (const RuleInfo *rule : rules)
      for (const Stmt *s : rule->decl->body) {
        auto *c = dyn_cast<ConstrainStmt>(s);
        if (!c || !c->predicate || isa<ErrorExpr>(c->predicate))
          continue;
        Value r = eval_.eval(c->predicate, finalScope);
        bool holds = r.isNull() || (r.kind == Value::Kind::Bool && r.b);
        if (holds && !full_)
          continue; // `check` reports violations only
        ConstraintResult cr;
        cr.expr = c->predicate;
        cr.text = sourceText(c->predicate->range);
        cr.rule = rule->decl->name.text;
        cr.where = provenance(*rule, c->range, [&] { return "rule " + cr.rule; });
        cr.applicable = !r.isNull();
        cr.holds = holds;
        const std::string &fieldName = constrainedField(c);
        if (!cr.holds)
          reportViolation(unit, svc, fieldName, cr, final);
        else if (cr.applicable)
          for (auto &rf : unit.fields)
            if (rf.name == fieldName)
              rf.constraints.push_back(cr.text + " (rule " + cr.rule +
                                       (cr.where.stakeholder.empty() ? "" : "; " + cr.where.stakeholder) + ")");
        unit.constraints.push_back(std::move(cr));
      }

    for (size_t i = 0; i < unit.fields.size(); ++i)
      unit.fields[i].value = std::move(final.fields[i + 1].second);
    if (!full_)
      return unit;
    // What the unit waits for: upstream environments, then dependencies.
    for (auto &a : envInfo.after)
      if (model_.environment(a))
        unit.waitsFor.push_back(unit.service + "@" + a);
    // depends_on as merged for this unit (an `in` block may change it).
    if (const ResolvedField *deps = unit.field("depends_on"))
      for (const Value &d : deps->value.items)
        if (model_.service(d.s))
          unit.waitsFor.push_back(d.s + "@" + envName);
    return unit;
  }

  /// The value of a field candidate in one unit. A value with no `$` in any
  /// string is the same in every unit (only `${...}` interpolation reads
  /// the unit's environment or service), so it is evaluated once per
  /// expression and copied; the others are evaluated per unit.
  Value fieldValue(const Expr *e, const Type *type, const EvalScope &subst) {
    auto [it, added] = constantValues_.try_emplace(e);
    if (added) {
      Value v = eval_.valueOf(e, type, nullptr);
      if (!mentionsDollar(v)) {
        it->second = std::move(v);
        return it->second.value();
      }
    }
    if (it->second)
      return *it->second;
    return eval_.valueOf(e, type, &subst);
  }
  static bool mentionsDollar(const Value &v) {
    if ((v.kind == Value::Kind::String || v.kind == Value::Kind::Name) && v.s.find('$') != std::string::npos)
      return true;
    for (const Value &x : v.items)
      if (mentionsDollar(x))
        return true;
    for (auto &[k, x] : v.fields)
      if (mentionsDollar(x))
        return true;
    return false;
  }

  /// The provenance of a field candidate.
  Provenance where(const Source &src, const std::string &service) const {
    if (!src.owned) {
      Provenance p;
      p.block = "stdlib";
      return p;
    }
    llvm::SMRange range = src.expr->range;
    switch (src.rank) {
    case Rank::Defaults: return provenance(*src.owned, range, [] { return std::string("defaults"); });
    case Rank::Service: return provenance(*src.owned, range, [&] { return "service " + service; });
    default: return provenance(*src.owned, range, [&] { return src.block->label; });
    }
  }

  // -------------------------------------------------------- merged cycles
  /// A unit's merged `depends_on`: the services and where the value was set.
  struct DependsOn {
    const std::string *service;
    std::vector<std::string> services;
    llvm::SMRange at;
    bool operator==(const DependsOn &o) const {
      return *service == *o.service && services == o.services && at.Start == o.at.Start && at.End == o.at.End;
    }
  };
  /// Per environment (by name), the merged non-empty `depends_on` of each
  /// service, by service name.
  using DependsOnByEnv = std::vector<std::pair<const std::string *, std::vector<DependsOn>>>;

  /// `depends_on` as merged per environment must stay acyclic: an `in`
  /// block can close a cycle that the service-level check (E501) cannot see.
  void checkDependencyCycles(const DependsOnByEnv &byEnv) {
    std::set<std::set<std::string>> reported;
    for (size_t e = 0; e < byEnv.size(); ++e) {
      const std::string &env = *byEnv[e].first;
      const std::vector<DependsOn> &deps = byEnv[e].second;
      // An environment with the same edges as an earlier one (usual: no
      // `in` block sets `depends_on`) has the same cycles, all reported.
      bool seen = false;
      for (size_t earlier = 0; earlier < e && !seen; ++earlier)
        seen = byEnv[earlier].second == deps;
      if (seen)
        continue;
      CycleGraph g;
      for (const DependsOn &f : deps) {
        auto &edges = g.try_emplace(g.end(), *f.service)->second;
        for (const std::string &d : f.services)
          edges.push_back({d, f.at});
      }
      forEachCycle(g, [&](const std::vector<std::string> &nodes, const std::vector<const CycleEdge *> &edges) {
        // One report per set of services, whichever environment shows it first.
        if (!reported.insert(std::set<std::string>(nodes.begin(), nodes.end())).second)
          return;
        std::string path;
        for (auto &n : nodes)
          path += "`" + n + "` → ";
        path += "`" + nodes.front() + "`";
        auto diag = diags_.report(DiagId::E501, edges.front()->at, path);
        for (size_t i = 0; i < nodes.size(); ++i)
          diag.note(edges[i]->at, DiagId::N005, nodes[i], "depends on",
                    (i + 1 < nodes.size() ? nodes[i + 1] : nodes.front()) + "` in environment `" + env);
      });
    }
  }

  // ------------------------------------------------------------- rule index
  /// A necessary condition on `service.name` found in a rule's `when`
  /// (one conjunct of a top-level `and`): exact names or a name prefix.
  struct NameFilter {
    bool any = true;
    std::vector<std::string> exact;
    std::string prefix;
    bool isPrefix = false;
  };

  static bool isServiceName(const Expr *e) {
    auto *m = llvm::dyn_cast_or_null<MemberExpr>(e);
    auto *root = m ? dyn_cast<NameExpr>(m->base) : nullptr;
    return root && root->name == "service" && m->member.text == "name";
  }

  static NameFilter nameFilter(const Expr *e) {
    NameFilter f;
    auto *b = llvm::dyn_cast_or_null<BinaryExpr>(e);
    if (!b)
      return f;
    if (b->op == BinaryOp::And) {
      NameFilter l = nameFilter(b->lhs);
      return l.any ? nameFilter(b->rhs) : l;
    }
    if (!isServiceName(b->lhs))
      return f;
    if (b->op == BinaryOp::Eq) {
      if (auto *str = dyn_cast<StringExpr>(b->rhs)) {
        f.any = false;
        f.exact.push_back(str->value);
      }
    } else if (b->op == BinaryOp::In) {
      auto *l = dyn_cast<ListExpr>(b->rhs);
      if (!l)
        return f;
      std::vector<std::string> names;
      for (const Expr *el : l->elements) {
        auto *str = dyn_cast<StringExpr>(el);
        if (!str)
          return f;
        names.push_back(str->value);
      }
      f.any = false;
      f.exact = std::move(names);
    } else if (b->op == BinaryOp::Matches) {
      auto *str = dyn_cast<StringExpr>(b->rhs);
      if (!str)
        return f;
      llvm::StringRef g(str->value);
      size_t special = g.find_first_of("*?[");
      if (special == llvm::StringRef::npos) {
        f.any = false;
        f.exact.push_back(g.str());
      } else if (special == g.size() - 1 && g.back() == '*') {
        f.any = false;
        f.isPrefix = true;
        f.prefix = g.drop_back().str();
      }
    }
    return f;
  }

  /// Builds the index once: rules that can only match certain service names
  /// are looked up by name or prefix instead of being evaluated for every
  /// unit (an organization with a rule per service stays linear).
  void buildRuleIndex() {
    if (indexed_)
      return;
    indexed_ = true;
    for (size_t i = 0; i < model_.rules.size(); ++i) {
      NameFilter f = nameFilter(model_.rules[i].when);
      if (f.any)
        unfiltered_.push_back(i);
      else if (f.isPrefix)
        byPrefix_[f.prefix].push_back(i);
      else
        for (auto &n : f.exact)
          byName_[n].push_back(i);
    }
  }

  /// Rules that may apply to `service`, in declaration order.
  std::vector<const RuleInfo *> candidateRules(const std::string &service) {
    buildRuleIndex();
    std::vector<size_t> ids = unfiltered_;
    if (auto it = byName_.find(service); it != byName_.end())
      ids.insert(ids.end(), it->second.begin(), it->second.end());
    for (size_t len = 0; len <= service.size(); ++len)
      if (auto it = byPrefix_.find(service.substr(0, len)); it != byPrefix_.end())
        ids.insert(ids.end(), it->second.begin(), it->second.end());
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    std::vector<const RuleInfo *> out;
    for (size_t i : ids)
      out.push_back(&model_.rules[i]);
    return out;
  }

  // -------------------------------------------------------------- conflicts
  void checkConflict(const std::string &field, const std::vector<Candidate> &cands, const Unit &unit,
                     const ServiceInfo &svc) {
    Rank top = cands[0].rank;
    std::vector<const Candidate *> same;
    for (auto &c : cands)
      if (c.rank == top)
        same.push_back(&c);
    bool differ = false;
    for (auto *c : same)
      differ |= c->value != same[0]->value;
    if (!differ || top == Rank::StdlibDefault)
      return;
    // Report each distinct set of clashing locations once, not per unit.
    std::vector<const char *> key;
    for (auto *c : same)
      key.push_back(c->where.range.Start.getPointer());
    if (!reportedConflicts_.insert({field, key}).second)
      return;
    std::string list;
    for (size_t i = 0; i < same.size(); ++i) {
      list += (i ? (i + 1 == same.size() ? " and " : ", ") : "") + ("`" + toSource(same[i]->value) + "`");
      if (!same[i]->where.stakeholder.empty())
        list += " from `" + same[i]->where.stakeholder + "`";
    }
    // The error sits at the last value in source order; notes at the others.
    const Candidate *primary = same.back();
    std::string unitName = unit.service + "@" + unit.environment;
    // Nickel's three labels: each value with its stakeholder, and where they met.
    auto d = diags_.report(DiagId::E600, primary->where.range, field, unitName, rankName(top), list);
    for (auto *c : same)
      d.note(c->where.range, DiagId::N015, toSource(c->value), c->where.stakeholder.empty() ? "?" : c->where.stakeholder);
    d.note(svc.decl->name.range, DiagId::N019, unitName, svc.decl->name.text);
    d.hint(DiagId::N017, field);
  }

  /// constrainedField() of a constraint, computed once.
  const std::string &constrainedField(const ConstrainStmt *c) {
    auto [it, added] = constrainedFields_.try_emplace(c);
    if (added)
      it->second = constrainedField(c->predicate);
    return it->second;
  }

  /// The service field a constraint is about: its first bare name or
  /// `service.<field>`.
  std::string constrainedField(const Expr *e) const {
    if (!e)
      return "";
    if (auto *n = dyn_cast<NameExpr>(e))
      return serviceSchema_->field(n->name) ? n->name : "";
    if (auto *m = dyn_cast<MemberExpr>(e)) {
      if (auto *root = dyn_cast<NameExpr>(m->base); root && root->name == "service")
        return serviceSchema_->field(m->member.text) ? m->member.text : "";
      return constrainedField(m->base);
    }
    if (auto *b = dyn_cast<BinaryExpr>(e)) {
      std::string l = constrainedField(b->lhs);
      return l.empty() ? constrainedField(b->rhs) : l;
    }
    if (auto *u = dyn_cast<UnaryExpr>(e))
      return constrainedField(u->operand);
    return "";
  }

  /// `final`: the unit's record, which holds the field values while the
  /// constraints are evaluated.
  void reportViolation(const Unit &unit, const ServiceInfo &svc, const std::string &fieldName,
                       const ConstraintResult &cr, const Value &final) {
    const ResolvedField *rf = nullptr;
    for (auto &f : unit.fields)
      if (f.name == fieldName)
        rf = &f;
    const Value *value = rf ? final.field(fieldName) : nullptr;
    llvm::SMRange at = rf && rf->where.range.Start.isValid() ? rf->where.range : svc.decl->name.range;
    if (!reportedViolations_.insert({at.Start.getPointer(), cr.expr}).second)
      return;
    std::string unitName = unit.service + "@" + unit.environment;
    std::string shown = value ? toSource(*value) : "";
    if (value && value->kind == Value::Kind::Record && fieldName == "artifact" && value->s == "image")
      if (const Value *ref = value->field("ref"))
        shown = toSource(*ref);
    auto d = diags_.report(DiagId::E601, at, fieldName.empty() ? "the unit" : "`" + fieldName + "`",
                           shown.empty() ? "" : " = `" + shown + "`", unitName, cr.text);
    d.note(cr.where.range, DiagId::N016, cr.rule, cr.where.stakeholder.empty() ? "?" : cr.where.stakeholder);
    if (rf && rf->rank == Rank::StdlibDefault && rf->where.block == "stdlib")
      d.hint(DiagId::N018, fieldName);
  }

  // ----------------------------------------------------------------- guards
  void mergeGuards(Unit &unit, const std::vector<std::pair<const RequireStmt *, Provenance>> &requests,
                   const EvalScope &subst) {
    std::vector<ResolvedGuard> guards;
    std::vector<std::vector<Value>> keys;
    // Each request as written (args, stakeholder), per merged guard, so the
    // `merged` note credits every value to the stakeholder who wrote it.
    std::vector<std::vector<std::pair<std::string, std::string>>> asked;
    for (auto &[r, where] : requests) {
      const GuardSig *sig = r->guard.empty() ? nullptr : std_.guard(r->guard.text);
      if (!sig)
        continue;
      ResolvedGuard g;
      g.kind = sig->name;
      g.phase = sig->phase;
      // Parameters in declaration order, defaults filled in.
      for (size_t i = 0; i < sig->params.size(); ++i) {
        const FieldSig &p = sig->params[i];
        const Expr *e = p.defaultValue;
        size_t pos = 0;
        for (const Arg &a : r->args) {
          if (a.name.empty() ? pos++ == i : a.name.text == p.name)
            e = a.value;
        }
        g.args.push_back({p.name, e ? eval_.valueOf(e, p.type, &subst) : Value::null()});
      }
      g.requiredBy.push_back(where);
      // Identity: the merge key, or every argument.
      std::vector<Value> key{Value::string(g.kind)};
      for (auto &[name, v] : g.args)
        if (!sig->hasMergeKey ||
            std::find(sig->mergeKey.begin(), sig->mergeKey.end(), name) != sig->mergeKey.end())
          key.push_back(v);
      auto it = std::find(keys.begin(), keys.end(), key);
      if (it == keys.end()) {
        keys.push_back(key);
        asked.push_back({{describeArgs(g), where.stakeholder}});
        guards.push_back(std::move(g));
        continue;
      }
      size_t index = it - keys.begin();
      std::vector<std::pair<std::string, Value>> mergedArgs = guards[index].args;
      for (size_t i = 0; i < mergedArgs.size(); ++i) {
        auto op = sig->stricter.find(mergedArgs[i].first);
        if (op == sig->stricter.end())
          continue;
        Value &cur = mergedArgs[i].second;
        const Value &other = g.args[i].second;
        if (op->second == "intersect") {
          std::vector<Value> common;
          for (const Value &x : cur.items)
            if (std::find(other.items.begin(), other.items.end(), x) != other.items.end())
              common.push_back(x);
          cur.items = std::move(common);
        } else if (cur.isNull() || (!other.isNull() && (op->second == "max" ? compareValues(other, cur) > 0
                                                                             : compareValues(other, cur) < 0))) {
          cur = other;
        }
      }
      if (!orderedOk(*sig, guards[index].args) || !orderedOk(*sig, g.args) || !orderedOk(*sig, mergedArgs)) {
        // Not mergeable (e.g. a window across midnight): both guards hold.
        keys.push_back(key);
        keys.back().push_back(Value::integer(int64_t(keys.size())));
        asked.push_back({{describeArgs(g), where.stakeholder}});
        guards.push_back(std::move(g));
        continue;
      }
      ResolvedGuard &into = guards[index];
      into.args = std::move(mergedArgs);
      into.requiredBy.push_back(where);
      asked[index].push_back({describeArgs(g), where.stakeholder});
    }
    // Describe merges whose requests differed: "soak(duration = 30s) from
    // `shop`, soak(duration = 5m) from `platform` merged to the stricter
    // soak(duration = 5m)". Identical requests are listed in `requiredBy` only.
    for (size_t i = 0; i < guards.size(); ++i) {
      auto &list = asked[i];
      bool differ = false;
      for (auto &a : list)
        differ |= a.first != list[0].first;
      if (!differ)
        continue;
      std::string note;
      for (size_t j = 0; j < list.size(); ++j)
        note += (j ? (j + 1 == list.size() ? " and " : ", ") : "") + guards[i].kind + "(" + list[j].first +
                ") from `" + list[j].second + "`";
      guards[i].merged = note + " merged to the stricter " + guards[i].kind + "(" + describeArgs(guards[i]) + ")";
    }
    // Gates first, then verifications; otherwise in the order required.
    std::stable_partition(guards.begin(), guards.end(),
                          [](const ResolvedGuard &g) { return g.phase == GuardPhase::Gate; });
    unit.guards = std::move(guards);
  }

  /// For `ordered = [from, to]`: from < to (set, and not wrapping).
  static bool orderedOk(const GuardSig &sig, const std::vector<std::pair<std::string, Value>> &args) {
    if (sig.ordered.size() != 2)
      return true;
    const Value *a = nullptr, *b = nullptr;
    for (auto &[n, v] : args) {
      if (n == sig.ordered[0])
        a = &v;
      if (n == sig.ordered[1])
        b = &v;
    }
    return a && b && !a->isNull() && !b->isNull() && compareValues(*a, *b) < 0;
  }

  /// "name = value, …" of every set parameter (defaults included).
  static std::string describeArgs(const ResolvedGuard &g) {
    std::string out;
    for (auto &[name, v] : g.args)
      if (!v.isNull())
        out += (out.empty() ? "" : ", ") + name + " = " + toSource(v);
    return out;
  }

  const Model &model_;
  const Stdlib &std_;
  DiagnosticEngine &diags_;
  Evaluator eval_;
  const RecordSig *serviceSchema_;
  const RecordSig *envSchema_;
  /// Build everything a unit shows (provenance with files, lines and block
  /// labels, overridden candidates, guards, constraint texts, waits_for).
  /// False for `deployc check`, which needs only the diagnostics: the units
  /// are dropped once checked, and building their contents was most of the
  /// time of a large check.
  bool full_;
  UnitSink *sink_;
  std::map<std::string, Value> envValues_;
  llvm::StringMap<unsigned> fieldIndex_;
  std::vector<std::vector<std::pair<const DefaultsInfo *, const FieldStmt *>>> defaultsByField_;
  std::unordered_map<const ConstrainStmt *, std::string> constrainedFields_;
  std::unordered_map<const RuleInfo *, WhenDeps> whenDeps_;
  /// fieldValue(): expression → its value when that is the same in every
  /// unit (nullopt: it interpolates, evaluate per unit).
  std::unordered_map<const Expr *, std::optional<Value>> constantValues_;
  /// A `when` that reads only `env`, per (rule index × numEnvs_ +
  /// environment index): -1 not evaluated yet, else whether it holds.
  std::vector<int8_t> whenByEnv_;
  size_t numEnvs_ = 0;
  bool indexed_ = false;
  std::vector<size_t> unfiltered_;
  std::unordered_map<std::string, std::vector<size_t>> byName_, byPrefix_;
  std::set<std::pair<std::string, std::vector<const char *>>> reportedConflicts_;
  std::set<std::pair<const char *, const Expr *>> reportedViolations_;
};

} // namespace

MergeResult mergeProgram(const Model &model, DiagnosticEngine &diags, bool keepUnits, UnitSink *sink) {
  return Merger(model, diags, keepUnits, sink).run();
}

} // namespace dpl
