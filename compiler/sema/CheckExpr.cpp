// Value and predicate type checking.
#include "compiler/sema/ExprChecker.h"

#include "common/Time.h"

#include <llvm/ADT/StringExtras.h>
#include <llvm/ADT/StringSet.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/MemoryBuffer.h>

#include <functional>
#include <set>

namespace dpl {

using namespace ast;
using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

namespace {
std::vector<std::string> fieldNames(const RecordSig &r) {
  std::vector<std::string> out;
  for (auto &f : r.fields)
    out.push_back(f.name);
  return out;
}

/// RFC 3339 date-time, as the runtime reads it (common/Time.h).
bool isRfc3339(llvm::StringRef s) { return parseRfc3339(s).has_value(); }
/// An IANA zone known to the system tzdata (the database the runtime uses).
bool isTimezone(llvm::StringRef name) {
  if (name == "UTC" || name == "Etc/UTC")
    return true;
  if (name.empty() || name.contains("..") || name.startswith("/") || !llvm::isAlpha(name[0]))
    return false;
  for (char c : name)
    if (!(llvm::isAlnum(c) || c == '/' || c == '_' || c == '-' || c == '+'))
      return false;
  llvm::SmallString<128> path("/usr/share/zoneinfo/");
  path += name;
  // A zone is a TZif file (RFC 8536); tzdata also ships other files there.
  auto buf = llvm::MemoryBuffer::getFileSlice(path, 4, 0);
  return buf && (*buf)->getBuffer() == "TZif";
}
} // namespace

ExprChecker::ExprChecker(const Stdlib &stdlib, const Model *model, DiagnosticEngine &diags)
    : std_(stdlib), model_(model), diags_(diags), types_(stdlib.types) {
  auto extend = [&](RecordSig &out, const char *schemaName) {
    out.name = schemaName;
    if (const RecordSig *s = stdlib.schema(schemaName))
      out.fields = s->fields;
    FieldSig name;
    name.name = "name";
    name.type = types_.primitive(TypeKind::String);
    out.fields.insert(out.fields.begin(), name);
  };
  extend(envRecord_, "environment");
  extend(serviceRecord_, "service");
}

// ------------------------------------------------------------------ values

std::string ExprChecker::describeValue(const Expr *e) {
  switch (e->kind) {
  case ExprKind::Int: return "integer `" + toString(e) + "`";
  case ExprKind::Float: return "number `" + toString(e) + "`";
  case ExprKind::Bool: return "boolean `" + toString(e) + "`";
  case ExprKind::String: return "string " + toString(e);
  case ExprKind::Duration: return "duration `" + toString(e) + "`";
  case ExprKind::Percent: return "percentage `" + toString(e) + "`";
  case ExprKind::Time: return "time `" + toString(e) + "`";
  case ExprKind::Name: return "name `" + toString(e) + "`";
  case ExprKind::List: return "a list";
  case ExprKind::Map: return "a map";
  case ExprKind::Record: return "a `" + cast<RecordExpr>(e)->kindName.text + "` record";
  case ExprKind::Call: return "call `" + toString(e) + "`";
  default: return "expression `" + toString(e) + "`";
  }
}

void ExprChecker::mismatch(const Expr *e, const Type *expected) {
  diags_.report(DiagId::E400, e->range, TypeContext::describe(expected), describeValue(e));
}

const RecordSig *ExprChecker::recordKindOf(const Expr *e, std::string &kindName,
                                           llvm::SMRange &kindRange) const {
  if (auto *r = dyn_cast<RecordExpr>(e)) {
    kindName = r->kindName.text;
    kindRange = r->kindName.range;
  } else if (auto *c = dyn_cast<CallExpr>(e)) {
    auto *callee = dyn_cast<NameExpr>(c->callee);
    if (!callee)
      return nullptr;
    kindName = callee->name;
    kindRange = callee->range;
  } else {
    return nullptr;
  }
  return std_.record(kindName);
}

/// Cheap shape test used to pick a union member before checking in full.
bool ExprChecker::looksLike(const Expr *e, const Type *t) const {
  t = t->stripOptional();
  switch (t->kind) {
  case TypeKind::Error: return true;
  case TypeKind::Int:
  case TypeKind::Float: {
    const Expr *n = e;
    if (auto *u = dyn_cast<UnaryExpr>(e); u && u->op == UnaryOp::Neg)
      n = u->operand;
    return isa<IntExpr>(n) || (t->kind == TypeKind::Float && isa<FloatExpr>(n));
  }
  case TypeKind::Bool: return isa<BoolExpr>(e);
  case TypeKind::String:
  case TypeKind::Timestamp:
  case TypeKind::Timezone: return isa<StringExpr>(e);
  case TypeKind::Duration:
    return isa<DurationExpr>(e) || (isa<UnaryExpr>(e) && isa<DurationExpr>(cast<UnaryExpr>(e)->operand));
  case TypeKind::Percent:
    return isa<PercentExpr>(e) || (isa<UnaryExpr>(e) && isa<PercentExpr>(cast<UnaryExpr>(e)->operand));
  case TypeKind::Time: return isa<TimeExpr>(e);
  case TypeKind::Enum:
  case TypeKind::Ref: return isa<NameExpr>(e);
  case TypeKind::List: return isa<ListExpr>(e);
  case TypeKind::Map: return isa<MapExpr>(e);
  case TypeKind::Record:
  case TypeKind::Family: {
    std::string k;
    llvm::SMRange r;
    const RecordSig *rec = recordKindOf(e, k, r);
    if (!rec)
      return isa<RecordExpr>(e) || isa<CallExpr>(e);
    return t->kind == TypeKind::Record ? rec == t->record : rec->family == t->family;
  }
  case TypeKind::Union:
    for (const Type *m : t->members)
      if (looksLike(e, m))
        return true;
    return false;
  default: return false;
  }
}

void ExprChecker::checkValue(const Expr *e, const Type *expected, InterpScope interp) {
  if (!e || isa<ErrorExpr>(e) || expected->isError())
    return;
  const Type *t = expected->stripOptional();
  switch (t->kind) {
  case TypeKind::Union: {
    for (const Type *m : t->members)
      if (looksLike(e, m))
        return checkValue(e, m, interp);
    // A plain number where a duration is among the options still gets the unit hint.
    return mismatch(e, t);
  }
  case TypeKind::Int:
    if (auto *u = dyn_cast<UnaryExpr>(e); u && u->op == UnaryOp::Neg && isa<IntExpr>(u->operand))
      return;
    if (!isa<IntExpr>(e))
      mismatch(e, t);
    return;
  case TypeKind::Float: {
    const Expr *n = e;
    if (auto *u = dyn_cast<UnaryExpr>(e); u && u->op == UnaryOp::Neg)
      n = u->operand;
    if (!isa<FloatExpr>(n) && !isa<IntExpr>(n))
      mismatch(e, t);
    return;
  }
  case TypeKind::Bool:
    if (!isa<BoolExpr>(e))
      mismatch(e, t);
    return;
  case TypeKind::String:
    if (auto *s = dyn_cast<StringExpr>(e))
      return checkString(s, interp);
    return mismatch(e, t);
  case TypeKind::Timezone:
    if (auto *s = dyn_cast<StringExpr>(e)) {
      if (!isTimezone(s->value))
        diags_.report(DiagId::E217, e->range, s->value);
      return;
    }
    return mismatch(e, t);
  case TypeKind::Timestamp:
    if (auto *s = dyn_cast<StringExpr>(e)) {
      if (!isRfc3339(s->value))
        diags_.report(DiagId::E409, e->range, s->value);
      return;
    }
    return mismatch(e, t);
  case TypeKind::Duration:
    if (auto *i = dyn_cast<IntExpr>(e)) {
      diags_.report(DiagId::E401, e->range, i->value).hint(DiagId::N003, i->value);
      return;
    }
    if (auto *u = dyn_cast<UnaryExpr>(e); u && u->op == UnaryOp::Neg && isa<DurationExpr>(u->operand)) {
      diags_.report(DiagId::E412, e->range, "a duration", "zero or more", toString(e));
      return;
    }
    if (!isa<DurationExpr>(e))
      mismatch(e, t);
    return;
  case TypeKind::Percent:
    if (auto *u = dyn_cast<UnaryExpr>(e); u && u->op == UnaryOp::Neg && isa<PercentExpr>(u->operand)) {
      diags_.report(DiagId::E402, e->range, "-" + cast<PercentExpr>(u->operand)->spelling);
      return;
    }
    if (auto *p = dyn_cast<PercentExpr>(e)) {
      if (p->value < 0 || p->value > 100)
        diags_.report(DiagId::E402, e->range, p->spelling);
      return;
    }
    return mismatch(e, t);
  case TypeKind::Time:
    if (auto *tm = dyn_cast<TimeExpr>(e)) {
      if (tm->minute > 59)
        diags_.report(DiagId::E403, e->range, tm->spelling, "minutes must be 00..59");
      else if (tm->hour > 24 || (tm->hour == 24 && tm->minute != 0))
        diags_.report(DiagId::E403, e->range, tm->spelling, "hours must be 00..23 (or 24:00)");
      return;
    }
    if (auto *s = dyn_cast<StringExpr>(e)) {
      diags_.report(DiagId::E400, e->range, TypeContext::describe(t), describeValue(e))
          .hint(DiagId::N002, s->value);
      return;
    }
    return mismatch(e, t);
  case TypeKind::Enum: {
    auto *n = dyn_cast<NameExpr>(e);
    if (!n)
      return mismatch(e, t);
    auto &members = t->enumSig->members;
    if (std::find(members.begin(), members.end(), n->name) != members.end())
      return;
    auto d = t->enumSig->name == "weekday"
                 ? diags_.report(DiagId::E404, e->range, n->name)
                 : diags_.report(DiagId::E405, e->range, n->name, "`" + t->enumSig->name + "`");
    std::string best = closestName(n->name, members);
    if (!best.empty())
      d.hint(DiagId::N002, best);
    else
      d.hint(DiagId::N008, quotedList(members, "or"));
    return;
  }
  case TypeKind::Ref:
    if (auto *n = dyn_cast<NameExpr>(e))
      return checkReference(n, t->ref);
    return mismatch(e, t);
  case TypeKind::List: {
    auto *l = dyn_cast<ListExpr>(e);
    if (!l)
      return mismatch(e, t);
    for (const Expr *el : l->elements)
      checkValue(el, t->elem, interp);
    return;
  }
  case TypeKind::Map: {
    auto *m = dyn_cast<MapExpr>(e);
    if (!m)
      return mismatch(e, t);
    llvm::StringMap<llvm::SMRange> seen;
    for (const MapEntry &en : m->entries) {
      auto [it, fresh] = seen.try_emplace(en.key.text, en.key.range);
      if (!fresh)
        diags_.report(DiagId::E216, en.key.range, en.key.text).note(it->second, DiagId::N012, en.key.text);
      checkValue(en.value, t->elem, interp);
    }
    return;
  }
  case TypeKind::Record:
  case TypeKind::Family: {
    std::string kind;
    llvm::SMRange kindRange;
    const RecordSig *rec = recordKindOf(e, kind, kindRange);
    if (kind.empty())
      return mismatch(e, t);
    std::string family = t->kind == TypeKind::Family ? t->family : t->record->family;
    if (!rec) {
      std::vector<std::string> options;
      if (t->kind == TypeKind::Family) {
        auto it = std_.families.find(t->family);
        if (it != std_.families.end())
          for (auto *r : it->second)
            options.push_back(r->name);
      } else {
        options.push_back(t->record->name);
      }
      auto d = diags_.report(DiagId::E205, kindRange, family.empty() ? "record" : family, kind);
      std::string best = closestName(kind, options);
      if (!best.empty())
        d.hint(DiagId::N002, best);
      else
        d.hint(DiagId::N008, quotedList(options, "or"));
      return;
    }
    bool ok = t->kind == TypeKind::Record ? rec == t->record : rec->family == t->family;
    if (!ok)
      return mismatch(e, t);
    if (auto *r = dyn_cast<RecordExpr>(e))
      return checkRecordLiteral(r, *rec, interp);
    return checkRecordCall(cast<CallExpr>(e), *rec, interp);
  }
  default:
    return;
  }
}

void ExprChecker::checkReference(const NameExpr *n, RefKind kind) {
  if (!model_)
    return;
  bool found = false;
  switch (kind) {
  case RefKind::Environment: found = model_->environment(n->name); break;
  case RefKind::Service: found = model_->service(n->name); break;
  case RefKind::Group: found = model_->group(n->name); break;
  case RefKind::Stakeholder: found = model_->stakeholder(n->name); break;
  }
  if (found)
    return;
  // Candidates for "did you mean" are gathered only on the error path.
  std::vector<std::string> names;
  switch (kind) {
  case RefKind::Environment:
    for (auto &x : model_->environments)
      names.push_back(x.decl->name.text);
    break;
  case RefKind::Service:
    for (auto &x : model_->services)
      names.push_back(x.decl->name.text);
    break;
  case RefKind::Group:
    for (auto &x : model_->groups)
      names.push_back(x.decl->name.text);
    break;
  case RefKind::Stakeholder:
    for (auto &x : model_->stakeholders)
      names.push_back(x->name);
    break;
  }
  auto d = diags_.report(DiagId::E201, n->range, spelling(kind), n->name);
  std::string best = closestName(n->name, names);
  if (!best.empty())
    d.hint(DiagId::N002, best);
}

void ExprChecker::checkString(const StringExpr *s, InterpScope interp) {
  for (const Interpolation &in : s->interpolations) {
    std::string full;
    for (size_t i = 0; i < in.path.size(); ++i)
      full += (i ? "." : "") + in.path[i];
    const Type *type = nullptr;
    bool known = false;
    auto envField = [&](llvm::StringRef f) -> const FieldSig * {
      for (auto &fs : envRecord_.fields)
        if (fs.name == f)
          return &fs;
      return nullptr;
    };
    std::vector<std::string> allowed;
    if (interp != InterpScope::None) {
      allowed.push_back("env.name");
      for (auto &fs : envRecord_.fields) {
        TypeKind k = fs.type->stripOptional()->kind;
        bool scalar = k != TypeKind::List && k != TypeKind::Map && k != TypeKind::Record &&
                      k != TypeKind::Family && k != TypeKind::Union;
        if (fs.name != "name" && scalar)
          allowed.push_back("env." + fs.name);
      }
    }
    if (interp == InterpScope::Unit) {
      allowed.insert(allowed.begin(), {"version", "port", "service.name"});
    }
    if (interp != InterpScope::None) {
      if (in.path.size() == 2 && in.path[0] == "env") {
        if (const FieldSig *f = envField(in.path[1])) {
          known = true;
          type = f->type;
        }
      } else if (in.path.size() == 1 && in.path[0] != "name") {
        // Environment fields may also be named bare: `${tier}`.
        if (const FieldSig *f = envField(in.path[0])) {
          known = true;
          type = f->type;
        }
      }
    }
    if (interp == InterpScope::Unit) {
      if (full == "version" || full == "service.name") {
        known = true;
        type = types_.primitive(TypeKind::String);
      } else if (full == "port") {
        known = true;
        type = types_.primitive(TypeKind::Int);
      }
    }
    if (!known) {
      auto d = diags_.report(DiagId::E206, in.range, full);
      std::string best = closestName(full, allowed);
      if (!best.empty())
        d.hint(DiagId::N002, best);
      else if (!allowed.empty())
        d.hint(DiagId::N008, quotedList(allowed, "and"));
      else
        d.hint(DiagId::N008, "no interpolation");
      continue;
    }
    const Type *base = type->stripOptional();
    switch (base->kind) {
    case TypeKind::String: case TypeKind::Int: case TypeKind::Float: case TypeKind::Bool:
    case TypeKind::Duration: case TypeKind::Percent: case TypeKind::Time: case TypeKind::Enum:
    case TypeKind::Ref:
      break;
    default:
      diags_.report(DiagId::E400, in.range, "a name of a text value in `${...}`",
                    "`" + full + "` of type " + TypeContext::spell(type));
    }
  }
}

void ExprChecker::checkField(const FieldStmt *f, const RecordSig &schema, const std::string &what,
                             InterpScope interp) {
  const FieldSig *sig = schema.field(f->name.text);
  if (!sig) {
    auto d = diags_.report(DiagId::E203, f->name.range, f->name.text, what);
    std::string best = closestName(f->name.text, fieldNames(schema));
    if (!best.empty())
      d.hint(DiagId::N002, best);
    return;
  }
  checkValue(f->value, sig->type, interp);
}

void ExprChecker::checkFields(const std::vector<Stmt *> &body, const RecordSig &schema,
                              const std::string &what, InterpScope interp, bool requireAll,
                              llvm::SMRange declRange) {
  llvm::StringMap<const FieldStmt *> seen;
  for (const Stmt *s : body) {
    auto *f = dyn_cast<FieldStmt>(s);
    if (!f) {
      const char *kind = isa<InStmt>(s) ? "an `in` block" : isa<WhenStmt>(s) ? "`when`"
                         : isa<RequireStmt>(s) ? "`require`" : "`constrain`";
      diags_.report(DiagId::E109, s->range, kind, what);
      continue;
    }
    if (f->name.empty())
      continue;
    auto [it, fresh] = seen.try_emplace(f->name.text, f);
    if (!fresh) {
      diags_.report(DiagId::E202, f->name.range, f->name.text)
          .note(it->second->name.range, DiagId::N012, f->name.text);
      continue;
    }
    checkField(f, schema, what, interp);
  }
  if (!requireAll)
    return;
  // A misspelt field was reported with its "did you mean"; do not also
  // report the field it meant as missing.
  std::vector<std::string> names = fieldNames(schema);
  llvm::StringSet<> meant;
  for (const Stmt *s : body)
    if (auto *f = dyn_cast<FieldStmt>(s); f && !schema.field(f->name.text))
      meant.insert(closestName(f->name.text, names));
  for (const FieldSig &fs : schema.fields)
    if (fs.required() && !seen.count(fs.name) && !meant.count(fs.name))
      diags_.report(DiagId::E208, declRange, what, fs.name);
}

void ExprChecker::checkRecordLiteral(const RecordExpr *e, const RecordSig &rec, InterpScope interp) {
  checkFields(e->body, rec, "`" + rec.name + "` record", interp, true, e->kindName.range);
}

void ExprChecker::checkRecordCall(const CallExpr *e, const RecordSig &rec, InterpScope interp) {
  checkArgs(e->args, rec.fields, "`" + rec.name + "`", e->range, false, interp);
}

void ExprChecker::checkArgs(const std::vector<Arg> &args, llvm::ArrayRef<FieldSig> params,
                            const std::string &what, llvm::SMRange callRange, bool isGuard,
                            InterpScope interp, std::vector<std::string> *given) {
  std::vector<bool> set(params.size(), false);
  std::vector<llvm::SMRange> setAt(params.size());
  size_t positional = 0;
  bool sawNamed = false;
  std::vector<std::string> names;
  for (auto &p : params)
    names.push_back(p.name);
  for (const Arg &a : args) {
    size_t idx = params.size();
    if (a.name.empty()) {
      if (sawNamed) {
        diags_.report(DiagId::E100, a.range, "positional argument after a named argument");
        continue;
      }
      idx = positional++;
      if (idx >= params.size()) {
        diags_.report(DiagId::E211, a.range, what, params.size());
        continue;
      }
    } else {
      sawNamed = true;
      for (size_t i = 0; i < params.size(); ++i)
        if (params[i].name == a.name.text)
          idx = i;
      if (idx == params.size()) {
        auto d = isGuard ? diags_.report(DiagId::E209, a.name.range, what.substr(1, what.size() - 2), a.name.text)
                         : diags_.report(DiagId::E203, a.name.range, a.name.text, what + " record");
        std::string best = closestName(a.name.text, names);
        if (!best.empty()) {
          d.hint(DiagId::N002, best);
          // Count the argument it meant as given: no "missing argument" on top.
          for (size_t i = 0; i < params.size(); ++i)
            if (params[i].name == best && !set[i]) {
              set[i] = true;
              setAt[i] = a.range;
            }
        }
        continue;
      }
    }
    if (set[idx]) {
      diags_.report(DiagId::E212, a.range, params[idx].name).note(setAt[idx], DiagId::N012, params[idx].name);
      continue;
    }
    set[idx] = true;
    setAt[idx] = a.range;
    checkValue(a.value, params[idx].type, interp);
  }
  for (size_t i = 0; i < params.size(); ++i) {
    if (!set[i] && params[i].required())
      diags_.report(DiagId::E210, callRange, what, params[i].name);
    if (set[i] && given)
      given->push_back(params[i].name);
  }
}

void ExprChecker::checkRequire(const RequireStmt *r, InterpScope interp) {
  if (r->guard.empty())
    return;
  const GuardSig *g = std_.guard(r->guard.text);
  if (!g) {
    std::vector<std::string> names;
    for (auto &[n, _] : std_.guards)
      names.push_back(n);
    auto d = diags_.report(DiagId::E204, r->guard.range, r->guard.text);
    std::string best = closestName(r->guard.text, names);
    if (!best.empty())
      d.hint(DiagId::N002, best);
    else
      d.hint(DiagId::N008, quotedList(names, "and"));
    return;
  }
  std::vector<std::string> given;
  llvm::SMRange where(r->guard.range.Start, r->range.End);
  checkArgs(r->args, g->params, "`" + g->name + "`", where, true, interp, &given);
  if (!g->exactlyOneOf.empty()) {
    unsigned n = 0;
    for (auto &p : g->exactlyOneOf)
      n += std::count(given.begin(), given.end(), p);
    if (n != 1) {
      std::vector<std::string> quoted = g->exactlyOneOf;
      diags_.report(DiagId::E213, where, g->name, quotedList(quoted, "or"));
    }
  }
  for (const Arg &a : r->args) {
    std::string pname = a.name.text;
    if (pname.empty()) {
      size_t idx = &a - r->args.data();
      if (idx < g->params.size())
        pname = g->params[idx].name;
    }
    auto it = g->minimums.find(pname);
    if (it == g->minimums.end())
      continue;
    if (auto *i = dyn_cast<IntExpr>(a.value); i && i->value < it->second)
      diags_.report(DiagId::E412, a.value->range, "`" + pname + "`",
                    "at least " + std::to_string(it->second), std::to_string(i->value));
    if (auto *u = dyn_cast<UnaryExpr>(a.value); u && u->op == UnaryOp::Neg)
      diags_.report(DiagId::E412, a.value->range, "`" + pname + "`",
                    "at least " + std::to_string(it->second), toString(a.value));
  }
}

// -------------------------------------------------------------- predicates

void ExprChecker::checkPredicate(const Expr *e, PredScope scope, const std::string &what) {
  if (!e || isa<ErrorExpr>(e))
    return;
  const Type *t = typeOf(e, scope);
  if (t->isError())
    return;
  if (t->stripOptional()->kind != TypeKind::Bool)
    diags_.report(DiagId::E406, e->range, what, TypeContext::describe(t));
}

const Type *ExprChecker::fieldOf(const Type *base, const Name &member) {
  base = base->stripOptional();
  if (base->isError())
    return base;
  const RecordSig *rec = nullptr;
  std::vector<const RecordSig *> candidates;
  if (base->kind == TypeKind::Record) {
    rec = base->record;
    candidates.push_back(rec);
  } else if (base->kind == TypeKind::Family) {
    auto it = std_.families.find(base->family);
    if (it != std_.families.end())
      candidates = it->second;
  } else {
    diags_.report(DiagId::E203, member.range, member.text, TypeContext::describe(base));
    return types_.error();
  }
  if (member.text == "kind" && base->kind == TypeKind::Family)
    return types_.primitive(TypeKind::String);
  // A family field exists when any member kind declares it; on other kinds it is absent.
  std::vector<std::string> names;
  for (const RecordSig *r : candidates)
    for (auto &f : r->fields) {
      if (f.name == member.text)
        return base->kind == TypeKind::Family ? types_.optional(f.type) : f.type;
      names.push_back(f.name);
    }
  // `registry` of an image reference is derived from `ref` (host part).
  if (base->kind == TypeKind::Family && base->family == "artifact" && member.text == "registry")
    return types_.optional(types_.primitive(TypeKind::String));
  if (base->kind == TypeKind::Family)
    names.push_back("kind");
  std::string what = rec ? (rec == &envRecord_ ? "environment" : rec == &serviceRecord_ ? "service"
                                                                                         : "`" + rec->name + "` record")
                         : base->family;
  auto d = diags_.report(DiagId::E203, member.range, member.text, what);
  std::string best = closestName(member.text, names);
  if (!best.empty())
    d.hint(DiagId::N002, best);
  return types_.error();
}

const Type *ExprChecker::typeOfNameQuiet(const NameExpr *n, PredScope scope) {
  if (n->name == "env")
    return types_.record(&envRecord_);
  if (n->name == "service")
    return types_.record(&serviceRecord_);
  const RecordSig *bare = scope == PredScope::Environment ? &envRecord_
                          : scope == PredScope::Unit      ? &serviceRecord_
                                                          : nullptr;
  if (bare)
    if (const FieldSig *f = bare->field(n->name))
      return f->type;
  return nullptr;
}

const Type *ExprChecker::typeOfName(const NameExpr *n, PredScope scope) {
  if (n->name == "env")
    return types_.record(&envRecord_);
  if (n->name == "service")
    return types_.record(&serviceRecord_);
  const RecordSig *bare = scope == PredScope::Environment ? &envRecord_
                          : scope == PredScope::Unit      ? &serviceRecord_
                                                          : nullptr;
  if (bare)
    if (const FieldSig *f = bare->field(n->name))
      return f->type;
  std::vector<std::string> names = {"env", "service"};
  if (bare)
    for (auto &f : bare->fields)
      names.push_back(f.name);
  const char *where = scope == PredScope::Rule ? "a `when` condition (use `env.` or `service.`)"
                      : scope == PredScope::Environment ? "an `in` predicate"
                                                        : "a constraint";
  auto d = diags_.report(DiagId::E214, n->range, n->name, where);
  std::string best = closestName(n->name, names);
  if (!best.empty())
    d.hint(DiagId::N002, best);
  return types_.error();
}

bool ExprChecker::compatible(const Type *a, const Type *b) const {
  a = a->stripOptional();
  b = b->stripOptional();
  if (a->isError() || b->isError() || a == b)
    return true;
  // Element types decide for collections (a list of bare names is typed by
  // the other side).
  if ((a->kind == TypeKind::List && b->kind == TypeKind::List) ||
      (a->kind == TypeKind::Map && b->kind == TypeKind::Map))
    return compatible(a->elem, b->elem);
  auto numeric = [](const Type *t) { return t->kind == TypeKind::Int || t->kind == TypeKind::Float; };
  if (numeric(a) && numeric(b))
    return true;
  if (a->kind == TypeKind::Family && b->kind == TypeKind::Record)
    return b->record->family == a->family;
  if (b->kind == TypeKind::Family && a->kind == TypeKind::Record)
    return a->record->family == b->family;
  if (a->kind == TypeKind::Union) {
    for (auto *m : a->members)
      if (compatible(m, b))
        return true;
  }
  if (b->kind == TypeKind::Union) {
    for (auto *m : b->members)
      if (compatible(a, m))
        return true;
  }
  return false;
}

/// A bare name or literal on one side of a comparison is checked against the
/// other side's type: enum members and references have no type of their own.
void ExprChecker::checkAgainst(const Expr *e, const Type *t, PredScope scope) {
  // Only enum members and references are written as bare names; any other
  // bare name is an unknown name (with a "did you mean").
  std::function<bool(const Type *)> nameable = [&](const Type *x) {
    x = x->stripOptional();
    if (x->kind == TypeKind::Union)
      return std::any_of(x->members.begin(), x->members.end(), nameable);
    return x->isError() || x->kind == TypeKind::Enum || x->kind == TypeKind::Ref;
  };
  if (auto *n = dyn_cast<NameExpr>(e); n && !nameable(t)) {
    typeOfName(n, scope);
    return;
  }
  checkValue(e, t, InterpScope::None);
}

const Type *ExprChecker::typeOf(const Expr *e, PredScope scope) {
  const Type *err = types_.error();
  if (!e)
    return err;
  switch (e->kind) {
  case ExprKind::Error: return err;
  case ExprKind::Int: return types_.primitive(TypeKind::Int);
  case ExprKind::Float: return types_.primitive(TypeKind::Float);
  case ExprKind::Bool: return types_.primitive(TypeKind::Bool);
  case ExprKind::String:
    checkString(cast<StringExpr>(e), InterpScope::None);
    return types_.primitive(TypeKind::String);
  case ExprKind::Duration: return types_.primitive(TypeKind::Duration);
  case ExprKind::Percent: {
    auto *p = cast<PercentExpr>(e);
    if (p->value < 0 || p->value > 100)
      diags_.report(DiagId::E402, e->range, p->spelling);
    return types_.primitive(TypeKind::Percent);
  }
  case ExprKind::Time:
    checkValue(e, types_.primitive(TypeKind::Time), InterpScope::None);
    return types_.primitive(TypeKind::Time);
  case ExprKind::Name: return typeOfName(cast<NameExpr>(e), scope);
  case ExprKind::Member: {
    auto *m = cast<MemberExpr>(e);
    const Type *base = typeOf(m->base, scope);
    if (base->isError())
      return err;
    return fieldOf(base, m->member);
  }
  case ExprKind::List: {
    auto *l = cast<ListExpr>(e);
    const Type *elem = nullptr;
    for (const Expr *el : l->elements)
      if (!isa<NameExpr>(el)) {
        elem = typeOf(el, scope);
        break;
      }
    if (!elem)
      return types_.list(err); // names only: checked against the other operand
    for (const Expr *el : l->elements) {
      if (isa<NameExpr>(el))
        continue;
      const Type *t = typeOf(el, scope);
      if (!compatible(t, elem))
        diags_.report(DiagId::E400, el->range, TypeContext::describe(elem), describeValue(el));
    }
    return types_.list(elem);
  }
  case ExprKind::Map:
  case ExprKind::Record:
  case ExprKind::Call:
    diags_.report(DiagId::E109, e->range, describeValue(e), "a predicate");
    return err;
  case ExprKind::Unary: {
    auto *u = cast<UnaryExpr>(e);
    const Type *t = typeOf(u->operand, scope);
    if (t->isError())
      return err;
    if (u->op == UnaryOp::Not) {
      if (t->stripOptional()->kind != TypeKind::Bool) {
        diags_.report(DiagId::E406, u->operand->range, "the operand of `not`", TypeContext::describe(t));
        return err;
      }
      return types_.primitive(TypeKind::Bool);
    }
    TypeKind k = t->stripOptional()->kind;
    if (k != TypeKind::Int && k != TypeKind::Float && k != TypeKind::Duration) {
      diags_.report(DiagId::E400, u->operand->range, "a number", TypeContext::describe(t));
      return err;
    }
    return t;
  }
  case ExprKind::Binary: break;
  }
  auto *b = cast<BinaryExpr>(e);
  std::string op = spelling(b->op).str();
  const Type *boolT = types_.primitive(TypeKind::Bool);
  if (b->op == BinaryOp::And || b->op == BinaryOp::Or) {
    const Type *l = typeOf(b->lhs, scope), *r = typeOf(b->rhs, scope);
    bool bad = false;
    for (auto [side, t] : {std::pair{b->lhs, l}, std::pair{b->rhs, r}})
      if (!t->isError() && t->stripOptional()->kind != TypeKind::Bool) {
        diags_.report(DiagId::E406, side->range, "the operand of `" + op + "`", TypeContext::describe(t));
        bad = true;
      }
    return bad ? err : boolT;
  }
  // Bare names adopt the type of the other side (enum members, references).
  bool lName = isa<NameExpr>(b->lhs) && typeOfNameQuiet(cast<NameExpr>(b->lhs), scope) == nullptr;
  bool rName = isa<NameExpr>(b->rhs) && typeOfNameQuiet(cast<NameExpr>(b->rhs), scope) == nullptr;
  const Type *l = lName ? nullptr : typeOf(b->lhs, scope);
  const Type *r = nullptr;
  if (rName) {
    if (l && !l->isError()) {
      const Type *want = l->stripOptional();
      if (b->op == BinaryOp::In || b->op == BinaryOp::NotIn) {
        diags_.report(DiagId::E400, b->rhs->range, "a list", describeValue(b->rhs));
        return err;
      }
      checkAgainst(b->rhs, want, scope);
    }
    r = l ? l : err;
  } else {
    r = typeOf(b->rhs, scope);
  }
  if (lName) {
    const Type *want = r->stripOptional();
    if ((b->op == BinaryOp::In || b->op == BinaryOp::NotIn) && want->kind == TypeKind::List)
      want = want->elem;
    if (!want->isError())
      checkAgainst(b->lhs, want, scope);
    else
      typeOf(b->lhs, scope); // report the unknown name
    l = want;
  }
  if (l->isError() || r->isError()) {
    // A list of bare names on the right is checked against the left side.
    if ((b->op == BinaryOp::In || b->op == BinaryOp::NotIn) && !l->isError() &&
        r->kind == TypeKind::List && r->elem->isError())
      for (const Expr *el : cast<ListExpr>(b->rhs)->elements)
        checkAgainst(el, l->stripOptional(), scope);
    return (b->op == BinaryOp::Add || b->op == BinaryOp::Sub) ? err : boolT;
  }
  auto invalid = [&]() {
    diags_.report(DiagId::E407, b->opRange, op, TypeContext::describe(l), TypeContext::describe(r));
    return err;
  };
  TypeKind lk = l->stripOptional()->kind, rk = r->stripOptional()->kind;
  switch (b->op) {
  case BinaryOp::Eq:
  case BinaryOp::Ne:
    if (!compatible(l, r))
      return invalid();
    // `depends_on == [payments]`: bare names in the list are checked
    // against the element type of the other side.
    if (auto *list = dyn_cast<ListExpr>(b->rhs); list && l->stripOptional()->kind == TypeKind::List)
      for (const Expr *el : list->elements)
        if (isa<NameExpr>(el))
          checkAgainst(el, l->stripOptional()->elem, scope);
    return boolT;
  case BinaryOp::Lt: case BinaryOp::Le: case BinaryOp::Gt: case BinaryOp::Ge: {
    auto ordered = [](TypeKind k) {
      return k == TypeKind::Int || k == TypeKind::Float || k == TypeKind::Duration ||
             k == TypeKind::Percent || k == TypeKind::Time || k == TypeKind::String;
    };
    return ordered(lk) && compatible(l, r) ? boolT : invalid();
  }
  case BinaryOp::In:
  case BinaryOp::NotIn: {
    const Type *rs = r->stripOptional();
    if (rs->kind == TypeKind::List) {
      if (rs->elem->isError()) {
        for (const Expr *el : cast<ListExpr>(b->rhs)->elements)
          checkAgainst(el, l->stripOptional(), scope);
        return boolT;
      }
      return compatible(l, rs->elem) ? boolT : invalid();
    }
    if (rs->kind == TypeKind::Map && lk == TypeKind::String)
      return boolT;
    if (rs->kind == TypeKind::String && lk == TypeKind::String)
      return boolT; // substring test
    return invalid();
  }
  case BinaryOp::Matches:
    if (lk != TypeKind::String || rk != TypeKind::String)
      return invalid();
    if (auto *glob = dyn_cast<StringExpr>(b->rhs)) {
      std::string problem = globProblem(glob->value);
      if (!problem.empty())
        diags_.report(DiagId::E411, glob->range, glob->value, problem);
    }
    return boolT;
  case BinaryOp::Add:
  case BinaryOp::Sub:
    if ((lk == TypeKind::Int || lk == TypeKind::Duration || lk == TypeKind::Float) && compatible(l, r))
      return l;
    invalid();
    return err;
  default: return err;
  }
}

} // namespace dpl
