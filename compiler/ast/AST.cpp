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

} // namespace dpl::ast
