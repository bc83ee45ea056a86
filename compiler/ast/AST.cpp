// AST helpers: operator spellings and one-line expression rendering.
#include "compiler/ast/AST.h"

#include <fmt/format.h>

namespace dpl::ast {

llvm::StringRef spelling(BinaryOp op) {
  switch (op) {
  case BinaryOp::Or: return "or";
  case BinaryOp::And: return "and";
  case BinaryOp::Eq: return "==";
  case BinaryOp::Ne: return "!=";
  case BinaryOp::Lt: return "<";
  case BinaryOp::Le: return "<=";
  case BinaryOp::Gt: return ">";
  case BinaryOp::Ge: return ">=";
  case BinaryOp::In: return "in";
  case BinaryOp::NotIn: return "not in";
  case BinaryOp::Matches: return "matches";
  case BinaryOp::Add: return "+";
  case BinaryOp::Sub: return "-";
  }
  return "?";
}

llvm::StringRef spelling(DeclKind k) {
  switch (k) {
  case DeclKind::Owner: return "owner";
  case DeclKind::Stakeholder: return "stakeholder";
  case DeclKind::Group: return "group";
  case DeclKind::Environment: return "environment";
  case DeclKind::Defaults: return "defaults";
  case DeclKind::Service: return "service";
  case DeclKind::Rule: return "rule";
  case DeclKind::Guard: return "guard";
  case DeclKind::Record: return "record";
  case DeclKind::Schema: return "schema";
  case DeclKind::Enum: return "enum";
  }
  return "?";
}

static std::string quote(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string toString(const Expr *e) {
  if (!e)
    return "<null>";
  switch (e->kind) {
  case ExprKind::Error: return "<error>";
  case ExprKind::Int: return std::to_string(llvm::cast<IntExpr>(e)->value);
  case ExprKind::Float: return llvm::cast<FloatExpr>(e)->spelling;
  case ExprKind::Bool: return llvm::cast<BoolExpr>(e)->value ? "true" : "false";
  case ExprKind::String: return quote(llvm::cast<StringExpr>(e)->value);
  case ExprKind::Duration: return llvm::cast<DurationExpr>(e)->spelling;
  case ExprKind::Percent: return llvm::cast<PercentExpr>(e)->spelling;
  case ExprKind::Time: return llvm::cast<TimeExpr>(e)->spelling;
  case ExprKind::Name: return llvm::cast<NameExpr>(e)->name;
  case ExprKind::Member: {
    auto *m = llvm::cast<MemberExpr>(e);
    return toString(m->base) + "." + m->member.text;
  }
  case ExprKind::Call: {
    auto *c = llvm::cast<CallExpr>(e);
    std::string out = toString(c->callee) + "(";
    for (size_t i = 0; i < c->args.size(); ++i) {
      if (i)
        out += ", ";
      if (!c->args[i].name.empty())
        out += c->args[i].name.text + " = ";
      out += toString(c->args[i].value);
    }
    return out + ")";
  }
  case ExprKind::List: {
    std::string out = "[";
    auto &els = llvm::cast<ListExpr>(e)->elements;
    for (size_t i = 0; i < els.size(); ++i)
      out += (i ? ", " : "") + toString(els[i]);
    return out + "]";
  }
  case ExprKind::Map: {
    std::string out = "{";
    auto &ents = llvm::cast<MapExpr>(e)->entries;
    for (size_t i = 0; i < ents.size(); ++i)
      out += (i ? ", " : "") + quote(ents[i].key.text) + ": " + toString(ents[i].value);
    return out + "}";
  }
  case ExprKind::Record: return llvm::cast<RecordExpr>(e)->kindName.text + " { ... }";
  case ExprKind::Unary: {
    auto *u = llvm::cast<UnaryExpr>(e);
    return (u->op == UnaryOp::Not ? "not " : "-") + toString(u->operand);
  }
  case ExprKind::Binary: {
    auto *b = llvm::cast<BinaryExpr>(e);
    return "(" + toString(b->lhs) + " " + spelling(b->op).str() + " " + toString(b->rhs) + ")";
  }
  }
  return "?";
}

ASTContext::~ASTContext() {
  for (Expr *e : exprs_)
    e->~Expr();
  for (Stmt *st : stmts_)
    st->~Stmt();
  for (Decl *d : decls_)
    d->~Decl();
}

namespace {

using llvm::cast;

/// See dump().
class Dumper {
public:
  explicit Dumper(const char *base) : base_(base) {}
  std::string out;

  void file(const SourceFile &f) {
    out += "file parsedOk=" + std::to_string(f.parsedOk) + "\n";
    for (const Decl *d : f.decls)
      decl(d);
  }

private:
  std::string r(llvm::SMRange x) {
    if (!x.Start.isValid())
      return "[-]";
    return "[" + std::to_string(x.Start.getPointer() - base_) + "," +
           std::to_string(x.End.getPointer() - base_) + ")";
  }
  std::string n(const Name &x) { return "'" + x.text + "'" + r(x.range); }
  void line(int depth, const std::string &s) { out += std::string(size_t(depth) * 2, ' ') + s + "\n"; }

  void decl(const Decl *d) {
    line(0, "decl " + spelling(d->kind).str() + r(d->range) + " kw" + r(d->keyword) + " " + n(d->name));
    if (auto *b = llvm::dyn_cast<BlockDecl>(d)) {
      line(1, "close" + r(b->closeBrace));
      stmts(b->body, 1);
    } else if (auto *g = llvm::dyn_cast<GroupDecl>(d)) {
      expr(g->value, 1);
    } else if (auto *g = llvm::dyn_cast<GuardDecl>(d)) {
      for (auto &p : g->params)
        param(p, 1);
      stmts(g->body, 1);
    } else if (auto *rd = llvm::dyn_cast<RecordDecl>(d)) {
      line(1, "family " + n(rd->family));
      for (auto &p : rd->fields)
        param(p, 1);
    } else if (auto *s = llvm::dyn_cast<SchemaDecl>(d)) {
      for (auto &p : s->fields)
        param(p, 1);
    } else if (auto *e = llvm::dyn_cast<EnumDecl>(d)) {
      for (auto &m : e->members)
        line(1, "member " + n(m));
    }
  }
  void param(const ParamDecl &p, int depth) {
    line(depth, "param " + n(p.name) + r(p.range));
    type(p.type, depth + 1);
    if (p.defaultValue)
      expr(p.defaultValue, depth + 1);
  }
  void type(const TypeRef &t, int depth) {
    line(depth, "type " + n(t.name) + r(t.range) + " opt=" + std::to_string(t.optional) +
                    " union=" + std::to_string(t.isUnion));
    for (auto &a : t.args)
      type(a, depth + 1);
  }
  void stmts(const std::vector<Stmt *> &body, int depth) {
    for (const Stmt *s : body)
      stmt(s, depth);
  }
  void stmt(const Stmt *s, int depth) {
    switch (s->kind) {
    case StmtKind::Field: {
      auto *f = cast<FieldStmt>(s);
      line(depth, "field " + n(f->name) + r(s->range));
      expr(f->value, depth + 1);
      return;
    }
    case StmtKind::In: {
      auto *i = cast<InStmt>(s);
      line(depth, "in" + r(s->range));
      expr(i->predicate, depth + 1);
      stmts(i->body, depth + 1);
      return;
    }
    case StmtKind::When: line(depth, "when" + r(s->range)); expr(cast<WhenStmt>(s)->predicate, depth + 1); return;
    case StmtKind::Constrain:
      line(depth, "constrain" + r(s->range));
      expr(cast<ConstrainStmt>(s)->predicate, depth + 1);
      return;
    case StmtKind::Require: {
      auto *q = cast<RequireStmt>(s);
      line(depth, "require " + n(q->guard) + r(s->range) + " parens=" + std::to_string(q->hasParens));
      args(q->args, depth + 1);
      return;
    }
    }
  }
  void args(const std::vector<Arg> &as, int depth) {
    for (auto &a : as) {
      line(depth, "arg " + n(a.name) + r(a.range));
      expr(a.value, depth + 1);
    }
  }
  void expr(const Expr *e, int depth) {
    if (!e) {
      line(depth, "(null)");
      return;
    }
    std::string head = std::to_string(int(e->kind)) + r(e->range);
    switch (e->kind) {
    case ExprKind::Error: line(depth, "error" + head); return;
    case ExprKind::Int: line(depth, "int" + head + " " + std::to_string(cast<IntExpr>(e)->value)); return;
    case ExprKind::Float: {
      auto *f = cast<FloatExpr>(e);
      line(depth, "float" + head + " " + std::to_string(f->value) + " " + f->spelling);
      return;
    }
    case ExprKind::Bool: line(depth, "bool" + head + " " + std::to_string(cast<BoolExpr>(e)->value)); return;
    case ExprKind::String: {
      auto *s = cast<StringExpr>(e);
      line(depth, "string" + head + " \"" + s->value + "\"");
      for (auto &i : s->interpolations) {
        std::string path;
        for (auto &p : i.path)
          path += p + ".";
        line(depth + 1, "interp " + path + r(i.range));
      }
      return;
    }
    case ExprKind::Duration: {
      auto *d = cast<DurationExpr>(e);
      line(depth, "duration" + head + " " + std::to_string(d->millis) + " " + d->spelling);
      return;
    }
    case ExprKind::Percent: {
      auto *p = cast<PercentExpr>(e);
      line(depth, "percent" + head + " " + std::to_string(p->value) + " " + p->spelling);
      return;
    }
    case ExprKind::Time: {
      auto *t = cast<TimeExpr>(e);
      line(depth, "time" + head + " " + std::to_string(t->hour) + ":" + std::to_string(t->minute) + " " +
                      t->spelling);
      return;
    }
    case ExprKind::Name: line(depth, "name" + head + " " + cast<NameExpr>(e)->name); return;
    case ExprKind::Member: {
      auto *m = cast<MemberExpr>(e);
      line(depth, "member" + head + " " + n(m->member));
      expr(m->base, depth + 1);
      return;
    }
    case ExprKind::Call: {
      auto *c = cast<CallExpr>(e);
      line(depth, "call" + head);
      expr(c->callee, depth + 1);
      args(c->args, depth + 1);
      return;
    }
    case ExprKind::List:
      line(depth, "list" + head);
      for (const Expr *x : cast<ListExpr>(e)->elements)
        expr(x, depth + 1);
      return;
    case ExprKind::Map:
      line(depth, "map" + head);
      for (auto &en : cast<MapExpr>(e)->entries) {
        line(depth + 1, "key " + n(en.key));
        expr(en.value, depth + 2);
      }
      return;
    case ExprKind::Record: {
      auto *rc = cast<RecordExpr>(e);
      line(depth, "record" + head + " " + n(rc->kindName));
      stmts(rc->body, depth + 1);
      return;
    }
    case ExprKind::Unary: {
      auto *u = cast<UnaryExpr>(e);
      line(depth, "unary" + head + " " + std::to_string(int(u->op)));
      expr(u->operand, depth + 1);
      return;
    }
    case ExprKind::Binary: {
      auto *b = cast<BinaryExpr>(e);
      line(depth, "binary" + head + " " + spelling(b->op).str() + r(b->opRange));
      expr(b->lhs, depth + 1);
      expr(b->rhs, depth + 1);
      return;
    }
    }
  }
  const char *base_;
};

} // namespace

std::string dump(const SourceFile &file, const char *base) {
  Dumper d(base);
  d.file(file);
  return d.out;
}

} // namespace dpl::ast
