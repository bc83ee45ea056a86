// The DPL abstract syntax tree: our own node types, built once from the parse
// tree. Every node carries a source range; nothing here depends on ANTLR.
#pragma once

#include <llvm/ADT/StringRef.h>
#include <llvm/Support/Allocator.h>
#include <llvm/Support/Casting.h>
#include <llvm/Support/SMLoc.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dpl::ast {

/// A name as written, with its range.
struct Name {
  std::string text;
  llvm::SMRange range;
  bool empty() const { return text.empty(); }
};

// ---------------------------------------------------------------- expressions

enum class ExprKind : uint8_t {
  Error,    ///< placeholder for a malformed expression (already diagnosed)
  Int,
  Float,
  Bool,
  String,
  Duration,
  Percent,
  Time,
  Name,     ///< a bare identifier: reference, enum member, field
  Member,   ///< base.name
  Call,     ///< callee(args)
  List,
  Map,
  Record,   ///< kind { field = value; }
  Unary,
  Binary,
};

struct Expr {
  ExprKind kind;
  llvm::SMRange range;
  explicit Expr(ExprKind k, llvm::SMRange r) : kind(k), range(r) {}
  virtual ~Expr() = default;
};

template <ExprKind K> struct ExprBase : Expr {
  explicit ExprBase(llvm::SMRange r) : Expr(K, r) {}
  static bool classof(const Expr *e) { return e->kind == K; }
};

struct ErrorExpr : ExprBase<ExprKind::Error> { using ExprBase::ExprBase; };
struct IntExpr : ExprBase<ExprKind::Int> { using ExprBase::ExprBase; int64_t value = 0; };
struct FloatExpr : ExprBase<ExprKind::Float> {
  using ExprBase::ExprBase;
  double value = 0;
  std::string spelling;
};
struct BoolExpr : ExprBase<ExprKind::Bool> { using ExprBase::ExprBase; bool value = false; };

/// A `${...}` reference inside a string literal: a dotted path.
struct Interpolation {
  std::vector<std::string> path; ///< e.g. {"env", "name"}
  llvm::SMRange range;           ///< the name inside `${ }`
};

struct StringExpr : ExprBase<ExprKind::String> {
  using ExprBase::ExprBase;
  std::string value;                       ///< unescaped text, `${..}` kept verbatim
  std::vector<Interpolation> interpolations;
};

/// Durations are stored in milliseconds.
struct DurationExpr : ExprBase<ExprKind::Duration> {
  using ExprBase::ExprBase;
  int64_t millis = 0;
  std::string spelling;
};
/// Percent as written (`1%` → 1.0); the checker validates 0..100.
struct PercentExpr : ExprBase<ExprKind::Percent> {
  using ExprBase::ExprBase;
  double value = 0;
  std::string spelling;
};
/// Time of day; the checker validates hours and minutes.
struct TimeExpr : ExprBase<ExprKind::Time> {
  using ExprBase::ExprBase;
  int hour = 0, minute = 0;
  std::string spelling;
};
struct NameExpr : ExprBase<ExprKind::Name> { using ExprBase::ExprBase; std::string name; };
struct MemberExpr : ExprBase<ExprKind::Member> {
  using ExprBase::ExprBase;
  Expr *base = nullptr;
  Name member;
};

struct Arg {
  Name name; ///< empty for a positional argument
  Expr *value = nullptr;
  llvm::SMRange range;
};
struct CallExpr : ExprBase<ExprKind::Call> {
  using ExprBase::ExprBase;
  Expr *callee = nullptr; ///< usually a NameExpr
  std::vector<Arg> args;
};
struct ListExpr : ExprBase<ExprKind::List> { using ExprBase::ExprBase; std::vector<Expr *> elements; };
struct MapEntry {
  Name key;
  Expr *value = nullptr;
};
struct MapExpr : ExprBase<ExprKind::Map> { using ExprBase::ExprBase; std::vector<MapEntry> entries; };

struct Stmt;
struct RecordExpr : ExprBase<ExprKind::Record> {
  using ExprBase::ExprBase;
  Name kindName;
  std::vector<Stmt *> body;
};

enum class UnaryOp : uint8_t { Not, Neg };
struct UnaryExpr : ExprBase<ExprKind::Unary> {
  using ExprBase::ExprBase;
  UnaryOp op;
  Expr *operand = nullptr;
};

enum class BinaryOp : uint8_t { Or, And, Eq, Ne, Lt, Le, Gt, Ge, In, NotIn, Matches, Add, Sub };
llvm::StringRef spelling(BinaryOp op);
struct BinaryExpr : ExprBase<ExprKind::Binary> {
  using ExprBase::ExprBase;
  BinaryOp op;
  llvm::SMRange opRange;
  Expr *lhs = nullptr, *rhs = nullptr;
};

// ----------------------------------------------------------------- statements

enum class StmtKind : uint8_t { Field, In, When, Require, Constrain };

struct Stmt {
  StmtKind kind;
  llvm::SMRange range;
  Stmt(StmtKind k, llvm::SMRange r) : kind(k), range(r) {}
  virtual ~Stmt() = default;
};
template <StmtKind K> struct StmtBase : Stmt {
  explicit StmtBase(llvm::SMRange r) : Stmt(K, r) {}
  static bool classof(const Stmt *s) { return s->kind == K; }
};

/// `name = value;`
struct FieldStmt : StmtBase<StmtKind::Field> {
  using StmtBase::StmtBase;
  Name name;
  Expr *value = nullptr;
};
/// `in <predicate or environment name> { ... }`
struct InStmt : StmtBase<StmtKind::In> {
  using StmtBase::StmtBase;
  Expr *predicate = nullptr;
  std::vector<Stmt *> body;
};
struct WhenStmt : StmtBase<StmtKind::When> { using StmtBase::StmtBase; Expr *predicate = nullptr; };
/// `require guard(args);`
struct RequireStmt : StmtBase<StmtKind::Require> {
  using StmtBase::StmtBase;
  Name guard;
  std::vector<Arg> args;
  bool hasParens = false;
};
struct ConstrainStmt : StmtBase<StmtKind::Constrain> { using StmtBase::StmtBase; Expr *predicate = nullptr; };

// ---------------------------------------------------------------- types (stdlib)

/// A type as written in stdlib declarations: `list<string>?`, `int | percent`.
struct TypeRef {
  Name name;                    ///< for a union: empty
  std::vector<TypeRef> args;    ///< type arguments, or union members
  bool optional = false;
  bool isUnion = false;
  llvm::SMRange range;
};

/// `name: type = default` in a guard, record or schema declaration.
struct ParamDecl {
  Name name;
  TypeRef type;
  Expr *defaultValue = nullptr;
  llvm::SMRange range;
};

// --------------------------------------------------------------- declarations

enum class DeclKind : uint8_t {
  Owner, Stakeholder, Group, Environment, Defaults, Service, Rule,
  Guard, Record, Schema, Enum,
};
llvm::StringRef spelling(DeclKind k);

struct Decl {
  DeclKind kind;
  llvm::SMRange range;    ///< whole declaration
  llvm::SMRange keyword;  ///< the leading keyword
  Name name;              ///< empty for `defaults`
  Decl(DeclKind k, llvm::SMRange r) : kind(k), range(r) {}
  virtual ~Decl() = default;
};
template <DeclKind K> struct DeclBase : Decl {
  explicit DeclBase(llvm::SMRange r) : Decl(K, r) {}
  static bool classof(const Decl *d) { return d->kind == K; }
};

struct OwnerDecl : DeclBase<DeclKind::Owner> { using DeclBase::DeclBase; };
/// stakeholder / environment / defaults / service / rule: a named block.
struct BlockDecl : Decl {
  using Decl::Decl;
  std::vector<Stmt *> body;
  llvm::SMRange closeBrace;
  static bool classof(const Decl *d) {
    return d->kind == DeclKind::Stakeholder || d->kind == DeclKind::Environment ||
           d->kind == DeclKind::Defaults || d->kind == DeclKind::Service ||
           d->kind == DeclKind::Rule;
  }
};
struct GroupDecl : DeclBase<DeclKind::Group> { using DeclBase::DeclBase; Expr *value = nullptr; };
struct GuardDecl : DeclBase<DeclKind::Guard> {
  using DeclBase::DeclBase;
  std::vector<ParamDecl> params;
  std::vector<Stmt *> body; ///< `phase = gate;`, `exactly_one_of = [a, b];`
};
struct RecordDecl : DeclBase<DeclKind::Record> {
  using DeclBase::DeclBase;
  Name family; ///< `record process : runtime` → runtime
  std::vector<ParamDecl> fields;
};
struct SchemaDecl : DeclBase<DeclKind::Schema> {
  using DeclBase::DeclBase;
  std::vector<ParamDecl> fields;
};
struct EnumDecl : DeclBase<DeclKind::Enum> {
  using DeclBase::DeclBase;
  std::vector<Name> members;
};

/// One parsed `.dpl` file.
struct SourceFile {
  unsigned buffer = 0;     ///< SourceManager buffer id
  std::string relPath;     ///< path relative to the policy root, '/' separated
  bool isStdlib = false;
  bool parsedOk = true;    ///< false when the file had syntax errors
  std::vector<Decl *> decls;
};

/// Owns every node of a compilation. Nodes are allocated in blocks (one
/// malloc per node was a large share of parsing) and destroyed with the
/// context.
class ASTContext {
public:
  ASTContext() = default;
  ASTContext(const ASTContext &) = delete;
  ASTContext &operator=(const ASTContext &) = delete;
  ~ASTContext();

  template <typename T, typename... A> T *make(A &&...args) {
    T *raw = new (alloc_.Allocate<T>()) T(std::forward<A>(args)...);
    if constexpr (std::is_base_of_v<Expr, T>)
      exprs_.push_back(raw);
    else if constexpr (std::is_base_of_v<Stmt, T>)
      stmts_.push_back(raw);
    else
      decls_.push_back(raw);
    return raw;
  }
  std::vector<std::unique_ptr<SourceFile>> files;

private:
  llvm::BumpPtrAllocator alloc_;
  std::vector<Expr *> exprs_;
  std::vector<Stmt *> stmts_;
  std::vector<Decl *> decls_;
};

/// Compact one-line rendering of an expression, for messages and tests.
std::string toString(const Expr *e);

/// Every node of `file` with its values and source ranges (byte offsets
/// from `base`, the start of its buffer), one per line, indented by depth:
/// what tests and the fuzzer compare when two parses must agree.
std::string dump(const SourceFile &file, const char *base);

} // namespace dpl::ast
