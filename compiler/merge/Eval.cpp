// Expression evaluation for the merge phase.
#include "compiler/merge/Eval.h"

#include <fmt/format.h>
#include <llvm/Support/Casting.h>

#include <algorithm>
#include <cmath>

namespace dpl {

using namespace ast;
using llvm::cast;
using llvm::dyn_cast;
using K = Value::Kind;

// ------------------------------------------------------------------ Value

bool Value::operator==(const Value &o) const {
  if (kind != o.kind) {
    // An int and a float compare by value.
    if ((kind == K::Int && o.kind == K::Float) || (kind == K::Float && o.kind == K::Int))
      return (kind == K::Int ? double(i) : f) == (o.kind == K::Int ? double(o.i) : o.f);
    // Enum members and references compare with strings of the same text.
    if ((kind == K::Name && o.kind == K::String) || (kind == K::String && o.kind == K::Name))
      return s == o.s;
    return false;
  }
  switch (kind) {
  case K::Null: return true;
  case K::Bool: return b == o.b;
  case K::Int: case K::Duration: case K::Time: return i == o.i;
  case K::Float: case K::Percent: return f == o.f;
  case K::String: case K::Name: return s == o.s;
  case K::List: return items == o.items;
  case K::Map: return fields == o.fields;
  case K::Record: return s == o.s && fields == o.fields;
  }
  return false;
}

static std::string durationText(int64_t ms) {
  if (ms == 0)
    return "0s";
  std::string out = ms < 0 ? "-" : "";
  uint64_t v = ms < 0 ? uint64_t(-ms) : uint64_t(ms);
  static const std::pair<uint64_t, const char *> units[] = {
      {86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
  for (auto [size, name] : units)
    if (v >= size) {
      out += std::to_string(v / size) + name;
      v %= size;
    }
  return out;
}

static std::string quote(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string toSource(const Value &v) {
  switch (v.kind) {
  case K::Null: return "(unset)";
  case K::Bool: return v.b ? "true" : "false";
  case K::Int: return std::to_string(v.i);
  case K::Float: return fmt::format("{}", v.f);
  case K::String: return quote(v.s);
  case K::Duration: return durationText(v.i);
  case K::Percent: return fmt::format("{}%", v.f);
  case K::Time: return fmt::format("{:02}:{:02}", v.i / 60, v.i % 60);
  case K::Name: return v.s;
  case K::List: {
    std::string out = "[";
    for (size_t i = 0; i < v.items.size(); ++i)
      out += (i ? ", " : "") + toSource(v.items[i]);
    return out + "]";
  }
  case K::Map: {
    std::string out = "{";
    for (size_t i = 0; i < v.fields.size(); ++i)
      out += (i ? ", " : "") + quote(v.fields[i].first) + ": " + toSource(v.fields[i].second);
    return out + "}";
  }
  case K::Record: {
    std::string out = v.s + " {";
    for (auto &[k, f] : v.fields)
      if (!f.isNull())
        out += " " + k + " = " + toSource(f) + ";";
    return out + " }";
  }
  }
  return "?";
}

std::string imageRegistry(const std::string &ref) {
  size_t slash = ref.find('/');
  if (slash == std::string::npos)
    return "docker.io";
  std::string host = ref.substr(0, slash);
  if (host.find('.') != std::string::npos || host.find(':') != std::string::npos || host == "localhost")
    return host;
  return "docker.io";
}

// --------------------------------------------------------------- values

std::string Evaluator::substitute(const std::string &text, const EvalScope &scope) const {
  if (text.find('$') == std::string::npos)
    return text; // nothing to substitute: most strings
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    // `$$` (written `\$` in DPL) is a literal `$`: kept escaped for the
    // runtime, which substitutes `${version}` and `${port}` later.
    if (text.compare(i, 2, "$$") == 0) {
      out += "$$";
      ++i;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out += text[i];
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == std::string::npos) {
      out += text.substr(i);
      break;
    }
    std::string name = text.substr(i + 2, close - i - 2);
    const Value *found = nullptr;
    Value tmp;
    if (name.rfind("env.", 0) == 0 && scope.env)
      found = scope.env->field(name.substr(4));
    else if (name == "service.name" && scope.service)
      found = scope.service->field("name");
    else if (scope.env && name != "version" && name != "port" && name.find('.') == std::string::npos)
      found = scope.env->field(name);
    if (found && !found->isNull()) {
      out += found->kind == K::String || found->kind == K::Name ? found->s : toSource(*found);
    } else if (found) {
      // An unset optional field interpolates as the empty string.
    } else {
      out += text.substr(i, close - i + 1);
    }
    i = close;
  }
  return out;
}

Value Evaluator::recordValue(const RecordSig &rec,
                             const std::vector<std::pair<std::string, const Expr *>> &set,
                             const EvalScope *subst) const {
  Value v;
  v.kind = K::Record;
  v.s = rec.name;
  for (const FieldSig &f : rec.fields) {
    const Expr *e = f.defaultValue;
    for (auto &[name, expr] : set)
      if (name == f.name)
        e = expr;
    v.fields.push_back({f.name, e ? valueOf(e, f.type, subst) : Value::null()});
  }
  return v;
}

Value Evaluator::valueOf(const Expr *e, const Type *expected, const EvalScope *subst) const {
  if (!e)
    return Value::null();
  const Type *t = expected ? expected->stripOptional() : nullptr;
  Value v;
  switch (e->kind) {
  case ExprKind::Error: return Value::null();
  case ExprKind::Int:
    v.i = cast<IntExpr>(e)->value;
    v.kind = K::Int;
    if (t && t->kind == TypeKind::Float) {
      v.kind = K::Float;
      v.f = double(v.i);
    }
    return v;
  case ExprKind::Float: v.kind = K::Float; v.f = cast<FloatExpr>(e)->value; return v;
  case ExprKind::Bool: return Value::boolean(cast<BoolExpr>(e)->value);
  case ExprKind::String: {
    const std::string &text = cast<StringExpr>(e)->value;
    return Value::string(subst ? substitute(text, *subst) : text);
  }
  case ExprKind::Duration: v.kind = K::Duration; v.i = cast<DurationExpr>(e)->millis; return v;
  case ExprKind::Percent: v.kind = K::Percent; v.f = cast<PercentExpr>(e)->value; return v;
  case ExprKind::Time: {
    auto *tm = cast<TimeExpr>(e);
    v.kind = K::Time;
    v.i = tm->hour * 60 + tm->minute;
    return v;
  }
  case ExprKind::Name: v.kind = K::Name; v.s = cast<NameExpr>(e)->name; return v;
  case ExprKind::Unary: {
    auto *u = cast<UnaryExpr>(e);
    v = valueOf(u->operand, expected, subst);
    if (u->op == UnaryOp::Neg) {
      v.i = -v.i;
      v.f = -v.f;
    } else {
      v.b = !v.b;
    }
    return v;
  }
  case ExprKind::List: {
    v.kind = K::List;
    const Type *elem = t && t->kind == TypeKind::List ? t->elem : nullptr;
    for (const Expr *el : cast<ListExpr>(e)->elements)
      v.items.push_back(valueOf(el, elem, subst));
    return v;
  }
  case ExprKind::Map: {
    v.kind = K::Map;
    const Type *elem = t && t->kind == TypeKind::Map ? t->elem : nullptr;
    for (const MapEntry &en : cast<MapExpr>(e)->entries)
      v.fields.push_back({en.key.text, valueOf(en.value, elem, subst)});
    std::stable_sort(v.fields.begin(), v.fields.end(),
                     [](auto &a, auto &b) { return a.first < b.first; });
    return v;
  }
  case ExprKind::Record: {
    auto *r = cast<RecordExpr>(e);
    const RecordSig *rec = std_.record(r->kindName.text);
    if (!rec)
      return Value::null();
    std::vector<std::pair<std::string, const Expr *>> set;
    for (const Stmt *s : r->body)
      if (auto *f = dyn_cast<FieldStmt>(s))
        set.push_back({f->name.text, f->value});
    return recordValue(*rec, set, subst);
  }
  case ExprKind::Call: {
    auto *c = cast<CallExpr>(e);
    auto *callee = dyn_cast<NameExpr>(c->callee);
    const RecordSig *rec = callee ? std_.record(callee->name) : nullptr;
    if (!rec)
      return Value::null();
    std::vector<std::pair<std::string, const Expr *>> set;
    size_t pos = 0;
    for (const Arg &a : c->args) {
      if (a.name.empty()) {
        if (pos < rec->fields.size())
          set.push_back({rec->fields[pos++].name, a.value});
      } else {
        set.push_back({a.name.text, a.value});
      }
    }
    return recordValue(*rec, set, subst);
  }
  case ExprKind::Member:
  case ExprKind::Binary:
    return Value::null(); // not a field value (rejected by the checker)
  }
  return Value::null();
}

// ------------------------------------------------------------ predicates

const Value *Evaluator::lookup(const Expr *e, const EvalScope &scope, Value &tmp) const {
  if (auto *n = dyn_cast<NameExpr>(e)) {
    const std::string &name = n->name;
    if (name == "env" && scope.env)
      return scope.env;
    if (name == "service" && scope.service)
      return scope.service;
    const Value *bare = scope.bare == PredScope::Environment ? scope.env
                        : scope.bare == PredScope::Unit      ? scope.service
                                                             : nullptr;
    if (bare)
      if (const Value *f = bare->field(name))
        return f;
    tmp = Value();
    tmp.kind = K::Name; // enum member or reference, compared by name
    tmp.s = name;
    return &tmp;
  }
  if (auto *m = dyn_cast<MemberExpr>(e)) {
    const Value *base = lookup(m->base, scope, tmp);
    const std::string &name = m->member.text;
    if (base->kind != K::Record && base->kind != K::Map) {
      tmp = Value::null();
      return &tmp;
    }
    if (base->kind == K::Record && name == "kind") {
      Value kind = Value::string(base->s); // `base` may be `tmp`
      tmp = std::move(kind);
      return &tmp;
    }
    if (base->kind == K::Record && base->s == "image" && name == "registry") {
      const Value *ref = base->field("ref");
      Value registry = ref && ref->kind == K::String ? Value::string(imageRegistry(ref->s)) : Value::null();
      tmp = std::move(registry);
      return &tmp;
    }
    if (const Value *f = base->field(name)) {
      if (base != &tmp)
        return f;
      Value field = std::move(*const_cast<Value *>(f)); // a field of `tmp` itself
      tmp = std::move(field);
      return &tmp;
    }
    tmp = Value::null();
    return &tmp;
  }
  tmp = eval(e, scope);
  return &tmp;
}

static bool numeric(const Value &v) { return v.kind == K::Int || v.kind == K::Float; }
static double asDouble(const Value &v) { return v.kind == K::Int ? double(v.i) : v.f; }

Value Evaluator::eval(const Expr *e, const EvalScope &scope) const {
  if (!e)
    return Value::null();
  switch (e->kind) {
  case ExprKind::Name:
  case ExprKind::Member: {
    Value tmp;
    const Value *v = lookup(e, scope, tmp);
    return v == &tmp ? std::move(tmp) : *v;
  }
  case ExprKind::Unary: {
    auto *u = cast<UnaryExpr>(e);
    Value v = eval(u->operand, scope);
    if (v.isNull())
      return v;
    if (u->op == UnaryOp::Not)
      return Value::boolean(!v.b);
    v.i = -v.i;
    v.f = -v.f;
    return v;
  }
  case ExprKind::List: {
    Value v;
    v.kind = K::List;
    for (const Expr *el : cast<ListExpr>(e)->elements)
      v.items.push_back(eval(el, scope));
    return v;
  }
  case ExprKind::Binary: break;
  default:
    return valueOf(e, nullptr);
  }
  auto *b = cast<BinaryExpr>(e);
  if (b->op == BinaryOp::And || b->op == BinaryOp::Or) {
    Value l = eval(b->lhs, scope);
    bool lv = l.kind == K::Bool && l.b;
    if (b->op == BinaryOp::And && !lv && !l.isNull())
      return Value::boolean(false);
    if (b->op == BinaryOp::Or && lv)
      return Value::boolean(true);
    Value r = eval(b->rhs, scope);
    bool rv = r.kind == K::Bool && r.b;
    if (l.isNull() || r.isNull()) {
      // Unknown and-ed/or-ed with a known value: Kleene logic.
      if (b->op == BinaryOp::And && (!l.isNull() || !r.isNull()) && !(l.isNull() ? rv : lv))
        return Value::boolean(false);
      if (b->op == BinaryOp::Or && (l.isNull() ? rv : lv))
        return Value::boolean(true);
      return Value::null();
    }
    return Value::boolean(b->op == BinaryOp::And ? lv && rv : lv || rv);
  }
  // Operands by reference: comparing `service.artifact.kind` must not copy
  // the service record (this runs for every rule and constraint of every unit).
  Value lhsTmp, rhsTmp;
  const Value &l = *lookup(b->lhs, scope, lhsTmp);
  const Value &r = *lookup(b->rhs, scope, rhsTmp);
  switch (b->op) {
  case BinaryOp::Eq: return Value::boolean(l == r);
  case BinaryOp::Ne: return Value::boolean(l != r);
  case BinaryOp::Lt: case BinaryOp::Le: case BinaryOp::Gt: case BinaryOp::Ge: {
    if (l.isNull() || r.isNull())
      return Value::null();
    int cmp = 0;
    if (numeric(l) && numeric(r))
      cmp = asDouble(l) < asDouble(r) ? -1 : asDouble(l) > asDouble(r) ? 1 : 0;
    else if (l.kind == K::Percent)
      cmp = l.f < r.f ? -1 : l.f > r.f ? 1 : 0;
    else if (l.kind == K::String || l.kind == K::Name)
      cmp = l.s.compare(r.s) < 0 ? -1 : l.s.compare(r.s) > 0 ? 1 : 0;
    else
      cmp = l.i < r.i ? -1 : l.i > r.i ? 1 : 0;
    bool res = b->op == BinaryOp::Lt ? cmp < 0 : b->op == BinaryOp::Le ? cmp <= 0
             : b->op == BinaryOp::Gt ? cmp > 0 : cmp >= 0;
    return Value::boolean(res);
  }
  case BinaryOp::In:
  case BinaryOp::NotIn: {
    if (l.isNull() || r.isNull())
      return Value::null();
    bool found = false;
    if (r.kind == K::List)
      found = std::find(r.items.begin(), r.items.end(), l) != r.items.end();
    else if (r.kind == K::Map)
      found = r.field(l.s) != nullptr;
    else if (r.kind == K::String)
      found = r.s.find(l.s) != std::string::npos;
    return Value::boolean(b->op == BinaryOp::In ? found : !found);
  }
  case BinaryOp::Matches:
    if (l.isNull() || r.isNull())
      return Value::null();
    return Value::boolean(globMatch(r.s, l.s));
  case BinaryOp::Add:
  case BinaryOp::Sub: {
    if (l.isNull() || r.isNull())
      return Value::null();
    Value v = l;
    int sign = b->op == BinaryOp::Add ? 1 : -1;
    if (l.kind == K::Float || r.kind == K::Float) {
      v.kind = K::Float;
      v.f = asDouble(l) + sign * asDouble(r);
    } else {
      v.i = l.i + sign * r.i;
    }
    return v;
  }
  default: return Value::null();
  }
}

} // namespace dpl
