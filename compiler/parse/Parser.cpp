// Parse phase: runs the ANTLR lexer and parser (SLL first, LL on error),
// turns syntax errors into plain-word diagnostics, and builds the AST.
#include "compiler/parse/Parser.h"

#include "compiler/parse/FastLexer.h"

#include "DPLLexer.h"
#include "DPLParser.h"
#include "antlr4-runtime.h"

#include <llvm/ADT/StringExtras.h>
#include <llvm/ADT/StringMap.h>

#include <cerrno>
#include <set>
#include <stdexcept>
#include <cmath>
#include <cstdlib>

using dpl::gen::DPLLexer;
using dpl::gen::DPLParser;

namespace dpl {
namespace {

/// ANTLR indexes characters by code point; diagnostics need byte offsets.
class OffsetMap {
public:
  /// `text` is what ANTLR sees; `skip` bytes (a UTF-8 BOM) precede it.
  OffsetMap(llvm::StringRef text, size_t skip) : size_(text.size()), skip_(skip) {
    for (unsigned char c : text)
      if (c >= 0x80) {
        ascii_ = false;
        break;
      }
    if (ascii_)
      return;
    for (size_t i = 0; i < text.size(); ++i)
      if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80)
        starts_.push_back(static_cast<uint32_t>(i));
  }
  size_t byteOf(size_t codePoint) const {
    if (starts_.empty())
      return skip_ + std::min(codePoint, size_);
    return skip_ + (codePoint < starts_.size() ? starts_[codePoint] : size_);
  }
  bool ascii() const { return ascii_; }

private:
  bool ascii_ = true;
  size_t size_;
  size_t skip_;
  std::vector<uint32_t> starts_;
};

/// Token type of a literal such as `'}'`, looked up in the generated vocabulary.
size_t literalTokenType(antlr4::Parser *parser, const std::string &literal) {
  const antlr4::dfa::Vocabulary &v = parser->getVocabulary();
  for (size_t i = 0; i <= v.getMaxTokenType(); ++i)
    if (v.getLiteralName(i) == literal)
      return i;
  return antlr4::Token::INVALID_TYPE;
}

/// The first character of `s` as users can read it: itself when printable,
/// otherwise its code point (`U+0000`).
std::string printableChar(const std::string &s) {
  if (s.empty())
    return "";
  unsigned char c = s[0];
  if (c >= 0x20 && c < 0x7F && c != '`')
    return std::string(1, static_cast<char>(c));
  // Decode one UTF-8 sequence (the file was validated as UTF-8).
  uint32_t cp = c;
  size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  if (len > 1) {
    cp = c & (0xFF >> (len + 1));
    for (size_t i = 1; i < len && i < s.size(); ++i)
      cp = (cp << 6) | (static_cast<unsigned char>(s[i]) & 0x3F);
  }
  bool printable = cp >= 0xA0 && cp != 0xFEFF && !(cp >= 0x2028 && cp <= 0x202F) &&
                   !(cp >= 0x200B && cp <= 0x200F);
  if (printable)
    return s.substr(0, len);
  return fmt::format("U+{:04X}", cp);
}

/// What the pre-parse scans need to know about a token type, decided once
/// from the vocabulary instead of comparing every token's text (building
/// each token's text was a large share of the parse).
enum TokenClass : uint16_t {
  OpenBracket = 1 << 0,   ///< `(` `[` `{`
  CloseBracket = 1 << 1,  ///< `)` `]` `}`
  PrefixOp = 1 << 2,      ///< `not` `-`
  Separator = 1 << 3,     ///< `;` `,` `{` `}`
  Dot = 1 << 4,
  ChainOp = 1 << 5,       ///< `or` `and` `+` `-`
  NameKeyword = 1 << 6,   ///< isNameKeyword()
  DeclKeyword = 1 << 7,   ///< starts a declaration
  SemiOrClose = 1 << 8,   ///< `;` `}`: a declaration may follow
  TypeDeclKeyword = 1 << 9, ///< `record` `schema` `guard`: declarations with types
  AngleOpen = 1 << 10,    ///< `<`: opens type arguments in those
  AngleClose = 1 << 11,   ///< `>`
  Operand = 1 << 12,      ///< a literal: `(` right after one is a call
  LeftParen = 1 << 13,    ///< `(`
};

bool isNameKeyword(const std::string &s);

/// TokenClass bits by token type.
const std::vector<uint16_t> &tokenClasses(const antlr4::dfa::Vocabulary &v) {
  static const std::vector<uint16_t> classes = [&] {
    std::vector<uint16_t> out(v.getMaxTokenType() + 1, 0);
    for (size_t i = 0; i <= v.getMaxTokenType(); ++i) {
      std::string lit = v.getLiteralName(i);
      if (lit.size() < 2 || lit.front() != '\'')
        continue;
      std::string s = lit.substr(1, lit.size() - 2);
      uint16_t c = 0;
      if (s == "(" || s == "[" || s == "{")
        c |= OpenBracket;
      if (s == ")" || s == "]" || s == "}")
        c |= CloseBracket;
      if (s == "not" || s == "-")
        c |= PrefixOp;
      if (s == ";" || s == "," || s == "{" || s == "}")
        c |= Separator;
      if (s == ".")
        c |= Dot;
      if (s == "or" || s == "and" || s == "+" || s == "-")
        c |= ChainOp;
      if (isNameKeyword(s))
        c |= NameKeyword;
      if (s == "owner" || s == "stakeholder" || s == "group" || s == "environment" || s == "defaults" ||
          s == "service" || s == "rule" || s == "guard" || s == "record" || s == "schema" || s == "enum")
        c |= DeclKeyword;
      if (s == ";" || s == "}")
        c |= SemiOrClose;
      if (s == "record" || s == "schema" || s == "guard")
        c |= TypeDeclKeyword;
      if (s == "<")
        c |= AngleOpen;
      if (s == ">")
        c |= AngleClose;
      if (s == "true" || s == "false")
        c |= Operand;
      if (s == "(")
        c |= LeftParen;
      out[i] = c;
    }
    return out;
  }();
  return classes;
}

/// Keywords that the grammar also accepts as names (see `ident` in DPL.g4).
bool isNameKeyword(const std::string &s) {
  static const std::set<std::string> k = {"owner", "stakeholder", "group", "environment", "defaults",
                                          "service", "rule", "guard", "record", "schema", "enum",
                                          "when", "require", "constrain"};
  return k.count(s) != 0;
}

/// Human names for tokens in messages: "`;`", "a name", "end of file".
std::string tokenDescription(antlr4::Parser *parser, size_t type) {
  switch (type) {
  case antlr4::Token::EOF: return "end of file";
  case DPLLexer::IDENT: return "a name";
  case DPLLexer::INT: return "an integer";
  case DPLLexer::FLOAT: return "a number";
  case DPLLexer::DURATION: return "a duration";
  case DPLLexer::PERCENT: return "a percentage";
  case DPLLexer::TIME: return "a time";
  case DPLLexer::STRING:
  case DPLLexer::UNTERMINATED_STRING: return "a string";
  default: break;
  }
  std::string lit = parser->getVocabulary().getLiteralName(type);
  if (lit.size() >= 2 && lit.front() == '\'')
    return "`" + lit.substr(1, lit.size() - 2) + "`";
  return parser->getVocabulary().getDisplayName(type);
}

std::string foundDescription(antlr4::Token *t) {
  if (!t || t->getType() == antlr4::Token::EOF)
    return "end of file";
  std::string text = t->getText();
  if (text.size() > 40)
    text = text.substr(0, 37) + "...";
  return "`" + text + "`";
}

/// What the parser was reading, for "expected `;` after field value".
const char *ruleContextPhrase(size_t rule) {
  switch (rule) {
  case DPLParser::RuleStmt: return "after field value";
  case DPLParser::RuleDecl: return "after declaration";
  case DPLParser::RuleParamDecl: return "after parameter declaration";
  case DPLParser::RuleCallArgs: return "in argument list";
  case DPLParser::RulePrimary: return "in list or map";
  case DPLParser::RuleMapEntry: return "in map entry";
  case DPLParser::RuleTypeAtom: return "in type";
  default: return nullptr;
  }
}

/// What a large expected set means, by the rule being parsed.
std::string expectedByRule(size_t rule, const antlr4::misc::IntervalSet &expected) {
  switch (rule) {
  case DPLParser::RuleFile:
  case DPLParser::RuleDecl:
    if (expected.contains(static_cast<size_t>(DPLLexer::T__0)))
      return "a declaration (`owner`, `stakeholder`, `group`, `environment`, `defaults`, "
             "`service` or `rule`)";
    break;
  case DPLParser::RuleBlock:
  case DPLParser::RuleStmt:
    return "a field, `in`, `when`, `require` or `constrain` statement, or `}`";
  case DPLParser::RuleValue:
  case DPLParser::RuleExpr:
  case DPLParser::RuleAndExpr:
  case DPLParser::RuleNotExpr:
  case DPLParser::RuleCmpExpr:
  case DPLParser::RuleAddExpr:
  case DPLParser::RuleUnaryExpr:
  case DPLParser::RulePostfixExpr:
  case DPLParser::RulePrimary:
  case DPLParser::RuleLiteral:
  case DPLParser::RuleArg:
    return "a value";
  case DPLParser::RuleIdent:
    return "a name";
  case DPLParser::RuleTypeExpr:
  case DPLParser::RuleTypeAtom:
    return "a type";
  default: break;
  }
  return "";
}

/// Error strategy that words messages for people and reports them straight
/// into the DiagnosticEngine. Recovery is ANTLR's (single-token insertion and
/// deletion, then resync); reporting is suppressed while recovering, which
/// keeps one mistake from producing a cascade.
class DiagErrorStrategy : public antlr4::DefaultErrorStrategy {
public:
  DiagErrorStrategy(DiagnosticEngine &diags, llvm::StringRef text, const OffsetMap &offsets,
                    bool eofIsReal)
      : diags_(diags), text_(text), offsets_(offsets), eofIsReal_(eofIsReal) {}

  bool reported = false;
  /// Recover without reporting (the chunk's lexical error was reported).
  bool silent = false;

protected:
  void reportError(antlr4::Parser *parser, const antlr4::RecognitionException &e) override {
    parser_ = parser;
    antlr4::DefaultErrorStrategy::reportError(parser, e);
  }

  void reportNoViableAlternative(antlr4::Parser *parser,
                                 const antlr4::NoViableAltException &e) override {
    antlr4::Token *t = e.getOffendingToken();
    if (afterRequire(parser, t) || missingCloseBrace(parser, t))
      return;
    std::string expected = describeExpected(parser, e.getExpectedTokens(), parser->getContext());
    report(t, expected.empty() ? "unexpected " + found(t)
                               : "expected " + expected + ", found " + found(t));
  }

  void reportInputMismatch(antlr4::Parser *parser, const antlr4::InputMismatchException &e) override {
    antlr4::Token *t = e.getOffendingToken();
    if (afterRequire(parser, t) || missingCloseBrace(parser, t))
      return;
    auto expectedSet = e.getExpectedTokens();
    std::string expected = describeExpected(parser, expectedSet, parser->getContext());
    if (expectedSet.size() == 1 && expectedSet.contains(static_cast<size_t>(DPLLexer::T__1))) {
      reportAfterPrevious(parser, "expected `;` " + phraseFor(parser));
      return;
    }
    report(t, "expected " + expected + ", found " + found(t));
  }

  void reportUnwantedToken(antlr4::Parser *parser) override {
    parser_ = parser;
    if (inErrorRecoveryMode(parser))
      return;
    beginErrorCondition(parser);
    antlr4::Token *t = parser->getCurrentToken();
    if (missingCloseBrace(parser, t))
      return;
    std::string expected = describeExpected(parser, getExpectedTokens(parser), parser->getContext());
    if (expected.empty())
      report(t, "unexpected " + found(t));
    else
      report(t, "unexpected " + found(t) + "; expected " + expected);
  }

  void reportMissingToken(antlr4::Parser *parser) override {
    parser_ = parser;
    if (inErrorRecoveryMode(parser))
      return;
    beginErrorCondition(parser);
    auto expected = getExpectedTokens(parser);
    std::string what = describeExpected(parser, expected, parser->getContext());
    bool semicolon = expected.size() == 1 && expected.contains(static_cast<size_t>(DPLLexer::T__1));
    std::string phrase = semicolon ? phraseFor(parser) : "";
    reportAfterPrevious(parser, "expected " + what + (phrase.empty() ? "" : " " + phrase));
  }

  /// After resynchronising past a `;` or `}`, the next statement is new
  /// input: report its errors too (`require 5; require 30s;` gives two).
  void recover(antlr4::Parser *parser, std::exception_ptr e) override {
    antlr4::DefaultErrorStrategy::recover(parser, e);
    antlr4::Token *prev = parser->getTokenStream()->LT(-1);
    // Only leave recovery mode; keep lastErrorIndex/lastErrorStates, which
    // stop recovery from looping at one position.
    if (prev && (prev->getText() == ";" || prev->getText() == "}"))
      errorRecoveryMode = false;
  }

  /// Never delete a statement terminator or a brace to make the input fit:
  /// that turns `x = ;` into `x = <next statement>` and cascades. Such
  /// errors resynchronise at the terminator instead.
  antlr4::Token *singleTokenDeletion(antlr4::Parser *parser) override {
    std::string text = parser->getCurrentToken()->getText();
    if (text == ";" || text == "}" || text == "{")
      return nullptr;
    return antlr4::DefaultErrorStrategy::singleTokenDeletion(parser);
  }

private:
  /// `require 5;` and friends: name the guard that is missing.
  bool afterRequire(antlr4::Parser *parser, antlr4::Token *t) {
    if (!t || t->getTokenIndex() == 0)
      return false;
    antlr4::Token *prev = parser->getTokenStream()->get(t->getTokenIndex() - 1);
    for (size_t i = t->getTokenIndex(); i-- > 0;) {
      prev = parser->getTokenStream()->get(i);
      if (prev->getChannel() == antlr4::Token::DEFAULT_CHANNEL)
        break;
    }
    if (prev->getText() != "require" || t->getType() == DPLLexer::IDENT)
      return false;
    reported = true;
    if (silent || !firstAt(t->getStartIndex()))
      return true;
    llvm::SMRange r = t->getType() == antlr4::Token::EOF
                          ? llvm::SMRange(locOf(prev->getStopIndex() + 1), locOf(prev->getStopIndex() + 1))
                          : llvm::SMRange(locOf(t->getStartIndex()), locOf(t->getStopIndex() + 1));
    diags_.report(DiagId::E410, r, found(t)).hint(DiagId::N011);
    return true;
  }

  std::string phraseFor(antlr4::Parser *parser) {
    auto *ctx = parser->getContext();
    if (!ctx)
      return "";
    // Name the statement kind precisely where we can.
    if (dynamic_cast<DPLParser::FieldStmtContext *>(ctx))
      return "after field value";
    if (dynamic_cast<DPLParser::RequireStmtContext *>(ctx))
      return "after guard";
    if (dynamic_cast<DPLParser::WhenStmtContext *>(ctx))
      return "after `when` condition";
    if (dynamic_cast<DPLParser::ConstrainStmtContext *>(ctx))
      return "after constraint";
    if (dynamic_cast<DPLParser::OwnerDeclContext *>(ctx))
      return "after owner name";
    if (dynamic_cast<DPLParser::GroupDeclContext *>(ctx))
      return "after group members";
    const char *p = ruleContextPhrase(ctx->getRuleIndex());
    return p ? p : "";
  }

  std::string describeExpected(antlr4::Parser *parser, const antlr4::misc::IntervalSet &set,
                               antlr4::ParserRuleContext *ctx) {
    if (set.size() == 0)
      return "";
    if (set.size() <= 3) {
      std::vector<std::string> names;
      for (size_t t : set.toList())
        names.push_back(tokenDescription(parser, t));
      std::string out;
      for (size_t i = 0; i < names.size(); ++i)
        out += (i ? (i + 1 == names.size() ? " or " : ", ") : "") + names[i];
      return out;
    }
    std::string byRule = ctx ? expectedByRule(ctx->getRuleIndex(), set) : "";
    if (!byRule.empty())
      return byRule;
    return "a value";
  }

  llvm::SMLoc locOf(size_t codePoint) {
    return llvm::SMLoc::getFromPointer(text_.data() + offsets_.byteOf(codePoint));
  }

  /// At a chunk boundary inside an open block: the block's `}` is missing.
  bool missingCloseBrace(antlr4::Parser *parser, antlr4::Token *t) {
    if (!t || t->getType() != antlr4::Token::EOF || eofIsReal_)
      return false;
    if (!parser->getExpectedTokens().contains(literalTokenType(parser, "'}'")))
      return false;
    report(t, "expected `}` before `" + t->getText() + "`: the block above is not closed");
    return true;
  }

  /// A chunk's EOF stands for the next declaration's keyword.
  std::string found(antlr4::Token *t) {
    if (t && t->getType() == antlr4::Token::EOF && !eofIsReal_)
      return "`" + t->getText() + "`";
    return foundDescription(t);
  }

  void report(antlr4::Token *t, const std::string &message) {
    reported = true;
    if (silent || !firstAt(t ? t->getStartIndex() : text_.size()))
      return;
    if (!t || (t->getType() == antlr4::Token::EOF && eofIsReal_)) {
      llvm::SMLoc end = llvm::SMLoc::getFromPointer(text_.data() + text_.size());
      diags_.report(DiagId::E100, end, message);
      return;
    }
    llvm::SMLoc a = locOf(t->getStartIndex());
    llvm::SMLoc b = locOf(t->getStopIndex() + 1);
    auto d = diags_.report(DiagId::E100, llvm::SMRange(a, b), message);
    addHints(d, t);
  }

  /// Whether the parser is inside a `when`, `in` or `constrain` condition.
  bool inCondition() {
    for (antlr4::RuleContext *c = parser_ ? parser_->getContext() : nullptr; c;
         c = dynamic_cast<antlr4::RuleContext *>(c->parent))
      if (dynamic_cast<DPLParser::WhenStmtContext *>(c) || dynamic_cast<DPLParser::InStmtContext *>(c) ||
          dynamic_cast<DPLParser::ConstrainStmtContext *>(c))
        return true;
    return false;
  }

  /// "did you mean" for a misspelt keyword, `==` for `=` in a condition.
  void addHints(DiagnosticEngine::Builder &d, antlr4::Token *t) {
    if (!t)
      return;
    if (t->getType() == DPLLexer::IDENT) {
      static const std::vector<std::string> keywords = {
          "owner", "stakeholder", "group", "environment", "defaults", "service", "rule",
          "in", "when", "require", "constrain"};
      std::string best = closestName(t->getText(), keywords);
      if (!best.empty()) {
        d.hint(DiagId::N002, best);
        return;
      }
    }
    if (t->getText() == "=" && inCondition()) {
      d.hint(DiagId::N002, "==");
    } else if (parser_) {
      // `requir soak(1m);`: the name before the error may be a keyword typo.
      antlr4::Token *prev = parser_->getTokenStream()->LT(-1);
      if (prev && prev->getType() == DPLLexer::IDENT) {
        static const std::vector<std::string> statementKeywords = {"in", "when", "require", "constrain"};
        std::string best = closestName(prev->getText(), statementKeywords);
        if (!best.empty() && prev->getText().size() > 2)
          d.hint(DiagId::N002, best);
      }
    }
  }

  /// clang places "expected `;`" right after the previous token.
  void reportAfterPrevious(antlr4::Parser *parser, const std::string &message) {
    reported = true;
    if (silent || !firstAt(parser->getCurrentToken()->getStartIndex()))
      return;
    antlr4::Token *prev = parser->getTokenStream()->LT(-1);
    if (!prev) {
      report(parser->getCurrentToken(), message);
      return;
    }
    auto d = diags_.report(DiagId::E100, locOf(prev->getStopIndex() + 1), message);
    addHints(d, parser->getCurrentToken());
  }


  DiagnosticEngine &diags_;
  llvm::StringRef text_;
  const OffsetMap &offsets_;
  bool eofIsReal_;
  antlr4::Parser *parser_ = nullptr;
  std::set<size_t> reportedAt_;
  /// One syntax error per input position: recovery may revisit a token.
  bool firstAt(size_t index) { return reportedAt_.insert(index).second; }
};

/// `t` as a T when T is its exact class. The generated context classes used
/// with it have no subclasses, so this answers as dynamic_cast does, with
/// one type_info comparison instead of a walk up the class hierarchy (the
/// failed casts were about an eighth of building the AST).
template <typename T> T *exactly(antlr4::tree::ParseTree *t) {
  return t && typeid(*t) == typeid(T) ? static_cast<T *>(t) : nullptr;
}

class FastParser;

/// Converts the parse tree to AST nodes. Tolerates the partial trees error
/// recovery leaves behind: anything missing becomes an ErrorExpr or is skipped.
class ASTBuilder {
public:
  ASTBuilder(ast::ASTContext &ctx, DiagnosticEngine &diags, llvm::StringRef text,
             const OffsetMap &offsets)
      : ctx_(ctx), diags_(diags), text_(text), offsets_(offsets) {}

  /// Set while converting a tree that came out of error recovery.
  bool recovering = false;

  void buildFile(DPLParser::FileContext *file, ast::SourceFile &out) {
    for (auto *d : file->decl())
      if (ast::Decl *decl = buildDecl(d))
        out.decls.push_back(decl);
  }

private:
  llvm::SMLoc loc(size_t codePoint) {
    return llvm::SMLoc::getFromPointer(text_.data() + offsets_.byteOf(codePoint));
  }
  llvm::SMRange range(antlr4::Token *t) {
    if (!t || t->getType() == antlr4::Token::EOF || t->getStartIndex() == kNoIndex) {
      llvm::SMLoc end = llvm::SMLoc::getFromPointer(text_.data() + text_.size());
      return {end, end};
    }
    return {loc(t->getStartIndex()), loc(t->getStopIndex() + 1)};
  }
  llvm::SMRange range(antlr4::ParserRuleContext *c) {
    if (!c)
      return {};
    llvm::SMRange a = range(c->getStart());
    antlr4::Token *stop = c->getStop();
    if (!stop || stop->getStartIndex() == kNoIndex || stop->getTokenIndex() < c->getStart()->getTokenIndex())
      return a;
    return {a.Start, range(stop).End};
  }
  llvm::SMRange range(antlr4::tree::TerminalNode *n) { return n ? range(n->getSymbol()) : llvm::SMRange(); }

  /// A token's text, taken from the source buffer: ANTLR's getText()
  /// converts the UTF-32 input back to UTF-8 into a new string every time.
  /// Tokens conjured by error recovery have no place in the buffer and keep
  /// ANTLR's text.
  std::string tokenText(antlr4::Token *t) {
    if (!t || t->getType() == antlr4::Token::EOF || t->getStartIndex() == kNoIndex)
      return t ? t->getText() : std::string();
    llvm::SMRange r = range(t);
    return std::string(r.Start.getPointer(), r.End.getPointer());
  }

  ast::Name name(DPLParser::IdentContext *c) {
    if (!c || !c->getStart() || c->getStart()->getType() == antlr4::Token::EOF)
      return {};
    // A token inserted by error recovery has no text of its own.
    if (c->getStart()->getStartIndex() == kNoIndex)
      return {};
    // An ident is one token; whatever its node (recovery may make it an
    // error node), its text is that token's.
    if (c->children.size() == 1 && c->getStop() == c->getStart())
      return {tokenText(c->getStart()), range(c)};
    return {c->getText(), range(c)};
  }

  // ----------------------------------------------------------- declarations
  ast::Decl *buildDecl(DPLParser::DeclContext *c) {
    using K = ast::DeclKind;
    if (auto *d = exactly<DPLParser::OwnerDeclContext>(c))
      return named<ast::OwnerDecl>(c, d->ident());
    if (auto *d = exactly<DPLParser::StakeholderDeclContext>(c))
      return blockDecl(K::Stakeholder, c, d->ident(), d->block());
    if (auto *d = exactly<DPLParser::EnvironmentDeclContext>(c))
      return blockDecl(K::Environment, c, d->ident(), d->block());
    if (auto *d = exactly<DPLParser::DefaultsDeclContext>(c))
      return blockDecl(K::Defaults, c, nullptr, d->block());
    if (auto *d = exactly<DPLParser::ServiceDeclContext>(c))
      return blockDecl(K::Service, c, d->ident(), d->block());
    if (auto *d = exactly<DPLParser::RuleDeclContext>(c))
      return blockDecl(K::Rule, c, d->ident(), d->block());
    if (auto *d = exactly<DPLParser::GroupDeclContext>(c)) {
      auto *g = named<ast::GroupDecl>(c, d->ident());
      g->value = broken(c) ? error(c) : buildValue(d->value());
      return g;
    }
    if (auto *d = exactly<DPLParser::GuardDeclContext>(c)) {
      auto *g = named<ast::GuardDecl>(c, d->ident());
      for (auto *p : d->paramDecl())
        g->params.push_back(buildParam(p));
      if (d->block())
        g->body = buildBlock(d->block());
      return g;
    }
    if (auto *d = exactly<DPLParser::RecordDeclContext>(c)) {
      auto ids = d->ident();
      auto *r = named<ast::RecordDecl>(c, ids.empty() ? nullptr : ids[0]);
      if (ids.size() > 1)
        r->family = name(ids[1]);
      for (auto *p : d->paramDecl())
        r->fields.push_back(buildParam(p));
      return r;
    }
    if (auto *d = exactly<DPLParser::SchemaDeclContext>(c)) {
      auto *s = named<ast::SchemaDecl>(c, d->ident());
      for (auto *p : d->paramDecl())
        s->fields.push_back(buildParam(p));
      return s;
    }
    if (auto *d = exactly<DPLParser::EnumDeclContext>(c)) {
      auto ids = d->ident();
      auto *e = named<ast::EnumDecl>(c, ids.empty() ? nullptr : ids[0]);
      for (size_t i = 1; i < ids.size(); ++i)
        e->members.push_back(name(ids[i]));
      return e;
    }
    return nullptr;
  }

  template <typename T> T *named(DPLParser::DeclContext *c, DPLParser::IdentContext *id) {
    auto *d = ctx_.make<T>(range(c));
    d->keyword = range(c->getStart());
    // `owner "ops";` or `owner: ops;`: the syntax error is enough.
    d->name = broken(c) && std::is_same_v<T, ast::OwnerDecl> ? ast::Name{} : name(id);
    return d;
  }

  ast::Decl *blockDecl(ast::DeclKind kind, DPLParser::DeclContext *c, DPLParser::IdentContext *id,
                       DPLParser::BlockContext *block) {
    auto *d = ctx_.make<ast::BlockDecl>(kind, range(c));
    d->keyword = range(c->getStart());
    d->name = name(id);
    if (block) {
      d->body = buildBlock(block);
      d->closeBrace = range(block->getStop());
    }
    return d;
  }

  ast::ParamDecl buildParam(DPLParser::ParamDeclContext *c) {
    ast::ParamDecl p;
    p.name = name(c->ident());
    p.range = range(c);
    if (c->typeExpr())
      p.type = buildType(c->typeExpr());
    if (c->value())
      p.defaultValue = buildValue(c->value());
    return p;
  }

  ast::TypeRef buildType(DPLParser::TypeExprContext *c) {
    auto atoms = c->typeAtom();
    if (atoms.size() == 1)
      return buildTypeAtom(atoms[0]);
    ast::TypeRef t;
    t.isUnion = true;
    t.range = range(c);
    for (auto *a : atoms)
      t.args.push_back(buildTypeAtom(a));
    return t;
  }
  ast::TypeRef buildTypeAtom(DPLParser::TypeAtomContext *c) {
    ast::TypeRef t;
    t.name = name(c->ident());
    t.range = range(c);
    for (auto *a : c->typeExpr())
      t.args.push_back(buildType(a));
    t.optional = c->getStop() && c->getStop()->getText() == "?";
    return t;
  }

  // ------------------------------------------------------------- statements
  std::vector<ast::Stmt *> buildBlock(DPLParser::BlockContext *c) {
    std::vector<ast::Stmt *> out;
    for (auto *s : c->stmt())
      if (ast::Stmt *stmt = buildStmt(s))
        out.push_back(stmt);
    return out;
  }

  /// True when error recovery touched this subtree. Such statements keep
  /// their shape but their values become ErrorExpr: a half-parsed value must
  /// not produce type errors on top of the syntax error (no cascades).
  static bool hasSyntaxError(antlr4::tree::ParseTree *t) {
    if (!t)
      return true;
    if (dynamic_cast<antlr4::tree::ErrorNode *>(t))
      return true;
    if (auto *rc = dynamic_cast<antlr4::ParserRuleContext *>(t); rc && rc->exception)
      return true;
    for (auto *child : t->children)
      if (hasSyntaxError(child))
        return true;
    return false;
  }
  bool broken(antlr4::tree::ParseTree *t) { return recovering && hasSyntaxError(t); }

  ast::Stmt *buildStmt(DPLParser::StmtContext *c) {
    if (auto *s = exactly<DPLParser::FieldStmtContext>(c)) {
      auto *f = ctx_.make<ast::FieldStmt>(range(c));
      f->name = name(s->ident());
      f->value = broken(c) ? error(c) : buildValue(s->value());
      return f;
    }
    if (auto *s = exactly<DPLParser::InStmtContext>(c)) {
      auto *i = ctx_.make<ast::InStmt>(range(c));
      i->predicate = broken(s->expr()) ? error(c) : buildExpr(s->expr());
      if (s->block())
        i->body = buildBlock(s->block());
      return i;
    }
    if (auto *s = exactly<DPLParser::WhenStmtContext>(c)) {
      auto *w = ctx_.make<ast::WhenStmt>(range(c));
      w->predicate = broken(c) ? error(c) : buildExpr(s->expr());
      return w;
    }
    if (auto *s = exactly<DPLParser::ConstrainStmtContext>(c)) {
      auto *w = ctx_.make<ast::ConstrainStmt>(range(c));
      w->predicate = broken(c) ? error(c) : buildExpr(s->expr());
      return w;
    }
    if (auto *s = exactly<DPLParser::RequireStmtContext>(c)) {
      auto *r = ctx_.make<ast::RequireStmt>(range(c));
      r->guard = name(s->ident());
      if (s->callArgs()) {
        r->hasParens = true;
        r->args = buildArgs(s->callArgs());
        // A guard call with a syntax error is not checked further.
        if (broken(c))
          r->guard = {};
      }
      return r;
    }
    return nullptr;
  }

  std::vector<ast::Arg> buildArgs(DPLParser::CallArgsContext *c) {
    std::vector<ast::Arg> out;
    for (auto *a : c->arg()) {
      ast::Arg arg;
      if (a->ident())
        arg.name = name(a->ident());
      arg.value = buildValue(a->value());
      arg.range = range(a);
      out.push_back(std::move(arg));
    }
    return out;
  }

  // ------------------------------------------------------------ expressions
  ast::Expr *error(antlr4::ParserRuleContext *c) { return ctx_.make<ast::ErrorExpr>(range(c)); }

  ast::Expr *buildValue(DPLParser::ValueContext *c) {
    if (!c)
      return ctx_.make<ast::ErrorExpr>(llvm::SMRange());
    if (auto *r = exactly<DPLParser::RecordValueContext>(c)) {
      auto *rec = ctx_.make<ast::RecordExpr>(range(c));
      rec->kindName = name(r->ident());
      if (r->block())
        rec->body = buildBlock(r->block());
      return rec;
    }
    if (auto *e = exactly<DPLParser::ExprValueContext>(c))
      return buildExpr(e->expr());
    return error(c);
  }

  /// Folds `a op b op c` children (operands and operator terminals) left to right.
  template <typename Operand, typename BuildFn>
  ast::Expr *foldBinary(antlr4::ParserRuleContext *c, BuildFn buildOperand) {
    ast::Expr *acc = nullptr;
    ast::BinaryOp pending{};
    llvm::SMRange opRange;
    for (auto *child : c->children) {
      if (auto *operand = exactly<Operand>(child)) {
        ast::Expr *rhs = buildOperand(operand);
        if (!acc) {
          acc = rhs;
        } else {
          auto *b = ctx_.make<ast::BinaryExpr>(llvm::SMRange(acc->range.Start, rhs->range.End));
          b->op = pending;
          b->opRange = opRange;
          b->lhs = acc;
          b->rhs = rhs;
          acc = b;
        }
      } else if (auto *t = dynamic_cast<antlr4::tree::TerminalNode *>(child)) {
        std::string op = tokenText(t->getSymbol());
        opRange = range(t);
        if (op == "||" || op == "&&")
          diags_.report(DiagId::E111, opRange, op, op == "||" ? "or" : "and");
        pending = (op == "or" || op == "||") ? ast::BinaryOp::Or
                  : (op == "and" || op == "&&") ? ast::BinaryOp::And
                  : op == "+" ? ast::BinaryOp::Add
                              : ast::BinaryOp::Sub;
      }
    }
    return acc ? acc : error(c);
  }

  ast::Expr *buildExpr(DPLParser::ExprContext *c) {
    if (!c)
      return ctx_.make<ast::ErrorExpr>(llvm::SMRange());
    return foldBinary<DPLParser::AndExprContext>(c, [&](auto *a) { return buildAnd(a); });
  }
  ast::Expr *buildAnd(DPLParser::AndExprContext *c) {
    return foldBinary<DPLParser::NotExprContext>(c, [&](auto *n) { return buildNot(n); });
  }
  ast::Expr *buildNot(DPLParser::NotExprContext *c) {
    if (c->notExpr()) {
      if (tokenText(c->getStart()) == "!")
        diags_.report(DiagId::E111, range(c->getStart()), "!", "not");
      auto *u = ctx_.make<ast::UnaryExpr>(range(c));
      u->op = ast::UnaryOp::Not;
      u->operand = buildNot(c->notExpr());
      return u;
    }
    if (c->cmpExpr())
      return buildCmp(c->cmpExpr());
    return error(c);
  }
  ast::Expr *buildCmp(DPLParser::CmpExprContext *c) {
    auto operands = c->addExpr();
    if (operands.empty())
      return error(c);
    ast::Expr *lhs = buildAdd(operands[0]);
    if (operands.size() < 2 || !c->cmpOp())
      return lhs;
    ast::Expr *rhs = buildAdd(operands[1]);
    auto *b = ctx_.make<ast::BinaryExpr>(range(c));
    std::string op = c->cmpOp()->getText();
    using B = ast::BinaryOp;
    b->op = op == "==" ? B::Eq : op == "!=" ? B::Ne : op == "<" ? B::Lt : op == "<=" ? B::Le
          : op == ">" ? B::Gt : op == ">=" ? B::Ge : op == "in" ? B::In
          : op == "matches" ? B::Matches : B::NotIn; // "notin": getText joins tokens
    b->opRange = range(c->cmpOp());
    b->lhs = lhs;
    b->rhs = rhs;
    return b;
  }
  ast::Expr *buildAdd(DPLParser::AddExprContext *c) {
    return foldBinary<DPLParser::UnaryExprContext>(c, [&](auto *u) { return buildUnary(u); });
  }
  ast::Expr *buildUnary(DPLParser::UnaryExprContext *c) {
    if (c->unaryExpr()) {
      auto *u = ctx_.make<ast::UnaryExpr>(range(c));
      u->op = ast::UnaryOp::Neg;
      u->operand = buildUnary(c->unaryExpr());
      return u;
    }
    if (c->postfixExpr())
      return buildPostfix(c->postfixExpr());
    return error(c);
  }
  ast::Expr *buildPostfix(DPLParser::PostfixExprContext *c) {
    if (!c->primary())
      return error(c);
    ast::Expr *acc = buildPrimary(c->primary());
    bool afterDot = false;
    for (auto *child : c->children) {
      if (child == c->primary())
        continue;
      // The rule contexts are tested first: they are the common children,
      // and an exact-type test is cheaper than dynamic_cast's miss.
      if (auto *id = exactly<DPLParser::IdentContext>(child)) {
        if (!afterDot)
          continue;
        auto *m = ctx_.make<ast::MemberExpr>(llvm::SMRange(acc->range.Start, range(id).End));
        m->base = acc;
        m->member = name(id);
        acc = m;
      } else if (auto *args = exactly<DPLParser::CallArgsContext>(child)) {
        auto *call = ctx_.make<ast::CallExpr>(llvm::SMRange(acc->range.Start, range(args).End));
        call->callee = acc;
        call->args = buildArgs(args);
        acc = call;
      } else if (auto *t = dynamic_cast<antlr4::tree::TerminalNode *>(child)) {
        afterDot = tokenText(t->getSymbol()) == ".";
        continue;
      }
      afterDot = false;
    }
    return acc;
  }

  ast::Expr *buildPrimary(DPLParser::PrimaryContext *c) {
    if (auto *l = exactly<DPLParser::LiteralExprContext>(c))
      return l->literal() ? buildLiteral(l->literal()) : error(c);
    if (auto *n = exactly<DPLParser::NameExprContext>(c)) {
      ast::Name nm = name(n->ident());
      if (nm.empty())
        return error(c);
      auto *e = ctx_.make<ast::NameExpr>(nm.range);
      e->name = nm.text;
      return e;
    }
    if (auto *p = exactly<DPLParser::ParenExprContext>(c))
      return buildExpr(p->expr());
    if (auto *l = exactly<DPLParser::ListExprContext>(c)) {
      auto *list = ctx_.make<ast::ListExpr>(range(c));
      for (auto *v : l->value())
        list->elements.push_back(buildValue(v));
      return list;
    }
    if (auto *m = exactly<DPLParser::MapExprContext>(c)) {
      auto *map = ctx_.make<ast::MapExpr>(range(c));
      for (auto *e : m->mapEntry()) {
        ast::MapEntry entry;
        if (e->ident()) {
          entry.key = name(e->ident());
        } else if (e->STRING()) {
          auto *s = buildString(e->STRING()->getSymbol());
          entry.key = {s->value, s->range};
        }
        entry.value = buildValue(e->value());
        map->entries.push_back(std::move(entry));
      }
      return map;
    }
    return error(c);
  }

  ast::Expr *buildLiteral(DPLParser::LiteralContext *c) { return buildLiteralToken(c->getStart()); }
  ast::Expr *buildLiteralToken(antlr4::Token *t) {
    std::string text = tokenText(t);
    llvm::SMRange r = range(t);
    switch (t->getType()) {
    case DPLLexer::INT: {
      auto *e = ctx_.make<ast::IntExpr>(r);
      if (llvm::StringRef(text).getAsInteger(10, e->value))
        if (!dryRunFails())
          diags_.report(DiagId::E408, r, text);
      return e;
    }
    case DPLLexer::FLOAT: {
      auto *e = ctx_.make<ast::FloatExpr>(r);
      e->value = std::strtod(text.c_str(), nullptr);
      e->spelling = text;
      return e;
    }
    case DPLLexer::PERCENT: {
      auto *e = ctx_.make<ast::PercentExpr>(r);
      e->value = std::strtod(text.c_str(), nullptr);
      e->spelling = text;
      return e;
    }
    case DPLLexer::TIME: {
      auto *e = ctx_.make<ast::TimeExpr>(r);
      auto [h, m] = llvm::StringRef(text).split(':');
      h.getAsInteger(10, e->hour);
      m.getAsInteger(10, e->minute);
      e->spelling = text;
      return e;
    }
    case DPLLexer::DURATION: return buildDuration(t);
    case DPLLexer::SQ_STRING: {
      // 'prod': say so once, then treat it as the string it was meant to be.
      auto *e = ctx_.make<ast::StringExpr>(r);
      e->value = text.substr(1, text.size() - 2);
      if (!dryRunFails())
        diags_.report(DiagId::E112, r, e->value);
      return e;
    }
    case DPLLexer::STRING:
    case DPLLexer::UNTERMINATED_STRING: return buildString(t);
    default: break;
    }
    auto *b = ctx_.make<ast::BoolExpr>(r);
    b->value = text == "true";
    return b;
  }

  /// `1h30m`, `500ms`, `2d`: one or more number+unit segments.
  ast::Expr *buildDuration(antlr4::Token *t) {
    std::string text = tokenText(t);
    llvm::SMRange r = range(t);
    auto *e = ctx_.make<ast::DurationExpr>(r);
    e->spelling = text;
    llvm::StringRef rest(text);
    int64_t total = 0;
    while (!rest.empty()) {
      size_t digits = rest.find_if_not([](char ch) { return llvm::isDigit(ch); });
      if (digits == 0 || digits == llvm::StringRef::npos) {
        if (!dryRunFails())
          diags_.report(DiagId::E107, r, "duration", text, "each number needs a unit (ms, s, m, h or d)");
        return e;
      }
      int64_t n = 0;
      if (rest.take_front(digits).getAsInteger(10, n)) {
        if (!dryRunFails())
          diags_.report(DiagId::E107, r, "duration", text, "number too large");
        return e;
      }
      rest = rest.drop_front(digits);
      size_t unitLen = rest.find_if([](char ch) { return llvm::isDigit(ch); });
      llvm::StringRef unit = rest.take_front(unitLen);
      rest = rest.drop_front(unit.size());
      int64_t scale = unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60000
                    : unit == "h" ? 3600000 : unit == "d" ? 86400000 : 0;
      if (!scale) {
        if (!dryRunFails())
          diags_.report(DiagId::E107, r, "duration", text, "unknown unit `" + unit.str() + "`; use ms, s, m, h or d");
        return e;
      }
      if (n > INT64_MAX / scale || total > INT64_MAX - n * scale) {
        if (!dryRunFails())
          diags_.report(DiagId::E107, r, "duration", text, "duration too large");
        return e;
      }
      total += n * scale;
    }
    e->millis = total;
    return e;
  }

  ast::StringExpr *buildString(antlr4::Token *t) {
    std::string text = tokenText(t);
    llvm::SMRange r = range(t);
    auto *e = ctx_.make<ast::StringExpr>(r);
    const char *base = r.Start.getPointer();
    // An unterminated string was reported when the tokens were scanned.
    bool terminated = t->getType() == DPLLexer::STRING;
    // Work on raw bytes of the source so byte offsets stay exact.
    llvm::StringRef raw(base, r.End.getPointer() - base);
    size_t end = terminated ? raw.size() - 1 : raw.size();
    std::string &out = e->value;
    for (size_t i = 1; i < end; ++i) {
      char ch = raw[i];
      if (ch == '\\' && i + 1 < end) {
        char n = raw[++i];
        switch (n) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '$': out += "$$"; break; // `\$` keeps a literal `$`: stored as `$$`
        default:
          if (!dryRunFails())
            diags_.report(DiagId::E105, llvm::SMRange(llvm::SMLoc::getFromPointer(base + i - 1),
                                                    llvm::SMLoc::getFromPointer(base + i + 1)),
                        std::string(1, n));
        }
        continue;
      }
      if (ch == '$' && i + 1 < end && raw[i + 1] == '{') {
        size_t close = raw.find('}', i + 2);
        if (close == llvm::StringRef::npos || close >= end) {
          if (!dryRunFails())
            diags_.report(DiagId::E106, llvm::SMRange(llvm::SMLoc::getFromPointer(base + i),
                                                    llvm::SMLoc::getFromPointer(base + end)),
                        "missing `}`");
          out += raw.substr(i, end - i).str();
          break;
        }
        llvm::StringRef inner = raw.slice(i + 2, close);
        size_t lead = inner.size() - inner.ltrim().size();
        llvm::StringRef trimmed = inner.trim();
        ast::Interpolation interp;
        interp.range = {llvm::SMLoc::getFromPointer(trimmed.empty() ? base + i : inner.data() + lead),
                        llvm::SMLoc::getFromPointer(trimmed.empty() ? base + close + 1
                                                                    : inner.data() + lead + trimmed.size())};
        llvm::SmallVector<llvm::StringRef, 4> parts;
        trimmed.split(parts, '.');
        bool ok = !trimmed.empty();
        for (auto p : parts) {
          if (p.empty() || !(llvm::isAlpha(p[0]) || p[0] == '_'))
            ok = false;
          for (char pc : p)
            if (!(llvm::isAlnum(pc) || pc == '_' || pc == '-'))
              ok = false;
          interp.path.push_back(p.str());
        }
        if (!ok) {
          if (!dryRunFails())
            diags_.report(DiagId::E106, interp.range,
                        trimmed.empty() ? std::string("empty `${}`")
                                        : "`" + trimmed.str() + "` is not a name");
        } else {
          e->interpolations.push_back(std::move(interp));
        }
        out += "${" + trimmed.str() + "}";
        i = close;
        continue;
      }
      out += ch;
    }
    return e;
  }

  /// In a dry run (FastParser), a literal that would get a diagnostic sets
  /// the flag instead, and the declaration is parsed again through ANTLR,
  /// whose build reports it. True when the caller must not report.
  bool dryRunFails() {
    if (!dryRun_)
      return false;
    *dryRun_ = true;
    return true;
  }

  friend class FastParser;
  static constexpr size_t kNoIndex = static_cast<size_t>(-1);
  ast::ASTContext &ctx_;
  DiagnosticEngine &diags_;
  llvm::StringRef text_;
  const OffsetMap &offsets_;
  bool *dryRun_ = nullptr;
};

/// The token types of the grammar's literal tokens, by text, read from the
/// generated vocabulary.
struct LiteralTypes {
  size_t owner, stakeholder, group, environment, defaults, service, rule, guard, record, schema, enum_, in,
      when, require, constrain, or_, and_, not_, matches, true_, false_;
  size_t semi, assign, lparen, rparen, comma, colon, lbrace, rbrace, lbracket, rbracket, lt, gt, le, ge, eq, ne,
      question, pipe, plus, minus, dot;
  explicit LiteralTypes(const antlr4::dfa::Vocabulary &v) {
    llvm::StringMap<size_t> byText;
    for (size_t t = 1; t <= v.getMaxTokenType(); ++t) {
      std::string lit = v.getLiteralName(t);
      if (lit.size() >= 3 && lit.front() == '\'' && lit.back() == '\'')
        byText[lit.substr(1, lit.size() - 2)] = t;
    }
    auto at = [&](const char *text) {
      auto it = byText.find(text);
      if (it == byText.end())
        throw std::logic_error(std::string("DPL grammar has no literal token ") + text);
      return it->second;
    };
    owner = at("owner"), stakeholder = at("stakeholder"), group = at("group"), environment = at("environment");
    defaults = at("defaults"), service = at("service"), rule = at("rule"), guard = at("guard");
    record = at("record"), schema = at("schema"), enum_ = at("enum"), in = at("in"), when = at("when");
    require = at("require"), constrain = at("constrain"), or_ = at("or"), and_ = at("and"), not_ = at("not");
    matches = at("matches"), true_ = at("true"), false_ = at("false");
    semi = at(";"), assign = at("="), lparen = at("("), rparen = at(")"), comma = at(","), colon = at(":");
    lbrace = at("{"), rbrace = at("}"), lbracket = at("["), rbracket = at("]"), lt = at("<"), gt = at(">");
    le = at("<="), ge = at(">="), eq = at("=="), ne = at("!="), question = at("?"), pipe = at("|");
    plus = at("+"), minus = at("-"), dot = at(".");
  }
};

/// A recursive-descent parser for declarations without syntax errors, which
/// builds the AST directly: the same nodes, ranges and values as ANTLR's
/// parse tree through ASTBuilder, at a fraction of the cost. It follows
/// grammar/DPL.g4 rule for rule, choosing alternatives with at most two
/// tokens of lookahead, which is all the grammar needs for valid input.
/// Anything else (a syntax error, a literal the builder would diagnose, the
/// tolerated `&&`, `||`, `!` and single-quoted strings) abandons the chunk,
/// which then goes through ANTLR (SLL, then LL with recovery) as before.
/// Agreement is tested by building each test input both ways
/// (tests/unit/ParserTest.cpp, FastParserAgrees*).
class FastParser {
public:
  /// `toks`: the chunk's default-channel tokens, ending with EOF; `types`:
  /// their types (read once: getType() is a virtual call).
  FastParser(ASTBuilder &b, const LiteralTypes &lt, const std::vector<antlr4::Token *> &toks,
             const std::vector<size_t> &types)
      : b_(b), t_(lt), toks_(toks), types_(types) {}

  /// `decl* EOF`. False when the chunk must go through ANTLR; `out` is then
  /// unchanged and nothing was reported.
  bool parseFile(std::vector<ast::Decl *> &out) {
    bool failed = false;
    b_.dryRun_ = &failed;
    std::vector<ast::Decl *> decls;
    try {
      while (type(0) != antlr4::Token::EOF)
        decls.push_back(decl());
    } catch (const Abandon &) {
      failed = true;
    }
    b_.dryRun_ = nullptr;
    if (failed)
      return false;
    out.insert(out.end(), decls.begin(), decls.end());
    return true;
  }

private:
  struct Abandon {};
  /// An expression with the tokens its grammar rule spans (the rule's
  /// range, which is not always the node's: `(a) == b`).
  struct Spanned {
    ast::Expr *expr;
    size_t first, last;
  };

  [[noreturn]] static void abandon() { throw Abandon{}; }
  size_t type(size_t k) const { return types_[std::min(pos_ + k, types_.size() - 1)]; }
  antlr4::Token *take(size_t expected) {
    if (type(0) != expected)
      abandon();
    return toks_[pos_++];
  }
  bool accept(size_t expected) {
    if (type(0) != expected)
      return false;
    ++pos_;
    return true;
  }
  bool isIdent(size_t k) const {
    size_t ty = type(k);
    return ty == DPLLexer::IDENT || ty == t_.owner || ty == t_.stakeholder || ty == t_.group ||
           ty == t_.environment || ty == t_.defaults || ty == t_.service || ty == t_.rule || ty == t_.guard ||
           ty == t_.record || ty == t_.schema || ty == t_.enum_ || ty == t_.when || ty == t_.require ||
           ty == t_.constrain;
  }
  llvm::SMRange range(size_t first, size_t last) {
    return {b_.range(toks_[first]).Start, b_.range(toks_[last]).End};
  }
  llvm::SMRange range(size_t i) { return b_.range(toks_[i]); }
  /// `'open' (item (',' item)* ','?)? 'close'`: the grammar's comma lists
  /// (guard parameters, enum members, call arguments, lists, maps).
  template <typename Item> void commaList(size_t open, size_t close, Item item) {
    take(open);
    while (type(0) != close) {
      item();
      if (!accept(t_.comma))
        break;
    }
    take(close);
  }

  /// `ident`: one token.
  ast::Name ident() {
    if (!isIdent(0))
      abandon();
    antlr4::Token *t = toks_[pos_++];
    return {b_.tokenText(t), b_.range(t)};
  }

  // ----------------------------------------------------------- declarations
  ast::Decl *decl() {
    using K = ast::DeclKind;
    size_t first = pos_, kw = type(0);
    auto finish = [&](ast::Decl *d) {
      d->range = range(first, pos_ - 1);
      d->keyword = range(first);
      return d;
    };
    if (kw == t_.owner) {
      ++pos_;
      auto *d = b_.ctx_.make<ast::OwnerDecl>(llvm::SMRange());
      d->name = ident();
      take(t_.semi);
      return finish(d);
    }
    K blockKind = kw == t_.stakeholder ? K::Stakeholder : kw == t_.environment ? K::Environment
                : kw == t_.service ? K::Service : kw == t_.rule ? K::Rule : K::Defaults;
    if (kw == t_.stakeholder || kw == t_.environment || kw == t_.service || kw == t_.rule || kw == t_.defaults) {
      ++pos_;
      auto *d = b_.ctx_.make<ast::BlockDecl>(blockKind, llvm::SMRange());
      if (kw != t_.defaults)
        d->name = ident();
      d->body = block();
      d->closeBrace = range(pos_ - 1);
      return finish(d);
    }
    if (kw == t_.group) {
      ++pos_;
      auto *d = b_.ctx_.make<ast::GroupDecl>(llvm::SMRange());
      d->name = ident();
      take(t_.assign);
      d->value = value().expr;
      take(t_.semi);
      return finish(d);
    }
    if (kw == t_.guard) {
      ++pos_;
      auto *d = b_.ctx_.make<ast::GuardDecl>(llvm::SMRange());
      d->name = ident();
      commaList(t_.lparen, t_.rparen, [&] { d->params.push_back(paramDecl()); });
      d->body = block();
      return finish(d);
    }
    if (kw == t_.record || kw == t_.schema) {
      ++pos_;
      ast::Name name = ident();
      ast::Name family;
      if (kw == t_.record && accept(t_.colon))
        family = ident();
      take(t_.lbrace);
      std::vector<ast::ParamDecl> fields;
      while (type(0) != t_.rbrace)
        fields.push_back(paramDecl());
      take(t_.rbrace);
      if (kw == t_.schema) {
        auto *d = b_.ctx_.make<ast::SchemaDecl>(llvm::SMRange());
        d->name = std::move(name);
        d->fields = std::move(fields);
        return finish(d);
      }
      auto *d = b_.ctx_.make<ast::RecordDecl>(llvm::SMRange());
      d->name = std::move(name);
      d->family = std::move(family);
      d->fields = std::move(fields);
      return finish(d);
    }
    if (kw == t_.enum_) {
      ++pos_;
      auto *d = b_.ctx_.make<ast::EnumDecl>(llvm::SMRange());
      d->name = ident();
      commaList(t_.lbrace, t_.rbrace, [&] { d->members.push_back(ident()); });
      return finish(d);
    }
    abandon();
  }

  /// `ident ':' typeExpr ('=' value)? ';'?`
  ast::ParamDecl paramDecl() {
    size_t first = pos_;
    ast::ParamDecl p;
    p.name = ident();
    take(t_.colon);
    p.type = typeExpr();
    if (accept(t_.assign))
      p.defaultValue = value().expr;
    accept(t_.semi);
    p.range = range(first, pos_ - 1);
    return p;
  }
  /// `typeAtom ('|' typeAtom)*`: one atom is the type itself.
  ast::TypeRef typeExpr() {
    size_t first = pos_;
    ast::TypeRef atom = typeAtom();
    if (type(0) != t_.pipe)
      return atom;
    ast::TypeRef u;
    u.isUnion = true;
    u.args.push_back(std::move(atom));
    while (accept(t_.pipe))
      u.args.push_back(typeAtom());
    u.range = range(first, pos_ - 1);
    return u;
  }
  /// `ident ('<' typeExpr (',' typeExpr)* '>')? '?'?`
  ast::TypeRef typeAtom() {
    size_t first = pos_;
    ast::TypeRef t;
    t.name = ident();
    if (accept(t_.lt)) {
      t.args.push_back(typeExpr());
      while (accept(t_.comma))
        t.args.push_back(typeExpr());
      take(t_.gt);
    }
    t.optional = accept(t_.question);
    t.range = range(first, pos_ - 1);
    return t;
  }

  // ------------------------------------------------------------- statements
  /// `'{' stmt* '}'`
  std::vector<ast::Stmt *> block() {
    take(t_.lbrace);
    std::vector<ast::Stmt *> out;
    while (type(0) != t_.rbrace)
      out.push_back(stmt());
    take(t_.rbrace);
    return out;
  }

  ast::Stmt *stmt() {
    size_t first = pos_, kw = type(0);
    auto finish = [&](ast::Stmt *s) {
      s->range = range(first, pos_ - 1);
      return s;
    };
    // `when = …;` is a field named `when`: a keyword that is also an ident
    // followed by `=` can only start a field.
    if (isIdent(0) && type(1) == t_.assign) {
      auto *f = b_.ctx_.make<ast::FieldStmt>(llvm::SMRange());
      f->name = ident();
      ++pos_;
      f->value = value().expr;
      take(t_.semi);
      return finish(f);
    }
    if (kw == t_.in) {
      ++pos_;
      auto *i = b_.ctx_.make<ast::InStmt>(llvm::SMRange());
      i->predicate = expr().expr;
      i->body = block();
      return finish(i);
    }
    if (kw == t_.when || kw == t_.constrain) {
      ++pos_;
      ast::Expr *pred = expr().expr;
      take(t_.semi);
      if (kw == t_.when) {
        auto *w = b_.ctx_.make<ast::WhenStmt>(llvm::SMRange());
        w->predicate = pred;
        return finish(w);
      }
      auto *c = b_.ctx_.make<ast::ConstrainStmt>(llvm::SMRange());
      c->predicate = pred;
      return finish(c);
    }
    if (kw == t_.require) {
      ++pos_;
      auto *r = b_.ctx_.make<ast::RequireStmt>(llvm::SMRange());
      r->guard = ident();
      if (type(0) == t_.lparen) {
        r->hasParens = true;
        r->args = callArgs();
      }
      take(t_.semi);
      return finish(r);
    }
    abandon();
  }

  /// `'(' (arg (',' arg)* ','?)? ')'`, arg: `(ident '=')? value`
  std::vector<ast::Arg> callArgs() {
    std::vector<ast::Arg> out;
    commaList(t_.lparen, t_.rparen, [&] {
      size_t first = pos_;
      ast::Arg a;
      if (isIdent(0) && type(1) == t_.assign) {
        a.name = ident();
        ++pos_;
      }
      a.value = value().expr;
      a.range = range(first, pos_ - 1);
      out.push_back(std::move(a));
    });
    return out;
  }

  // ------------------------------------------------------------ expressions
  /// `ident block` (a record) or `expr`.
  Spanned value() {
    size_t first = pos_;
    if (isIdent(0) && type(1) == t_.lbrace) {
      auto *rec = b_.ctx_.make<ast::RecordExpr>(llvm::SMRange());
      rec->kindName = ident();
      rec->body = block();
      rec->range = range(first, pos_ - 1);
      return {rec, first, pos_ - 1};
    }
    return expr();
  }

  /// Left-associative `operand (op operand)*` for `or`, `and`, `+`/`-`.
  template <typename Operand> Spanned fold(Operand operand, size_t op1, size_t op2, ast::BinaryOp b1,
                                           ast::BinaryOp b2) {
    Spanned acc = operand();
    while (type(0) == op1 || type(0) == op2) {
      ast::BinaryOp op = type(0) == op1 ? b1 : b2;
      llvm::SMRange opRange = range(pos_++);
      Spanned rhs = operand();
      auto *b = b_.ctx_.make<ast::BinaryExpr>(llvm::SMRange(acc.expr->range.Start, rhs.expr->range.End));
      b->op = op;
      b->opRange = opRange;
      b->lhs = acc.expr;
      b->rhs = rhs.expr;
      acc = {b, acc.first, rhs.last};
    }
    return acc;
  }
  Spanned expr() {
    return fold([&] { return andExpr(); }, t_.or_, t_.or_, ast::BinaryOp::Or, ast::BinaryOp::Or);
  }
  Spanned andExpr() {
    return fold([&] { return notExpr(); }, t_.and_, t_.and_, ast::BinaryOp::And, ast::BinaryOp::And);
  }
  /// `op self | next`: `not` over notExpr, `-` over unaryExpr.
  template <typename Self, typename Next>
  Spanned prefixed(size_t opType, ast::UnaryOp op, Self self, Next next) {
    if (type(0) != opType)
      return next();
    size_t first = pos_++;
    Spanned operand = self();
    auto *u = b_.ctx_.make<ast::UnaryExpr>(range(first, operand.last));
    u->op = op;
    u->operand = operand.expr;
    return {u, first, operand.last};
  }
  Spanned notExpr() {
    return prefixed(t_.not_, ast::UnaryOp::Not, [&] { return notExpr(); }, [&] { return cmpExpr(); });
  }
  Spanned cmpExpr() {
    Spanned lhs = addExpr();
    using B = ast::BinaryOp;
    size_t ty = type(0), opFirst = pos_;
    B op;
    if (ty == t_.eq) op = B::Eq;
    else if (ty == t_.ne) op = B::Ne;
    else if (ty == t_.lt) op = B::Lt;
    else if (ty == t_.le) op = B::Le;
    else if (ty == t_.gt) op = B::Gt;
    else if (ty == t_.ge) op = B::Ge;
    else if (ty == t_.in) op = B::In;
    else if (ty == t_.matches) op = B::Matches;
    else if (ty == t_.not_ && type(1) == t_.in) op = B::NotIn;
    else return lhs;
    pos_ += op == B::NotIn ? 2 : 1;
    llvm::SMRange opRange = range(opFirst, pos_ - 1);
    Spanned rhs = addExpr();
    auto *b = b_.ctx_.make<ast::BinaryExpr>(range(lhs.first, rhs.last));
    b->op = op;
    b->opRange = opRange;
    b->lhs = lhs.expr;
    b->rhs = rhs.expr;
    return {b, lhs.first, rhs.last};
  }
  Spanned addExpr() {
    return fold([&] { return unaryExpr(); }, t_.plus, t_.minus, ast::BinaryOp::Add, ast::BinaryOp::Sub);
  }
  Spanned unaryExpr() {
    return prefixed(t_.minus, ast::UnaryOp::Neg, [&] { return unaryExpr(); }, [&] { return postfixExpr(); });
  }
  /// `primary ('.' ident | callArgs)*`
  Spanned postfixExpr() {
    Spanned acc = primary();
    for (;;) {
      if (accept(t_.dot)) {
        ast::Name member = ident();
        auto *m = b_.ctx_.make<ast::MemberExpr>(llvm::SMRange(acc.expr->range.Start, member.range.End));
        m->base = acc.expr;
        m->member = std::move(member);
        acc = {m, acc.first, pos_ - 1};
      } else if (type(0) == t_.lparen) {
        std::vector<ast::Arg> args = callArgs();
        auto *call = b_.ctx_.make<ast::CallExpr>(llvm::SMRange(acc.expr->range.Start, range(pos_ - 1).End));
        call->callee = acc.expr;
        call->args = std::move(args);
        acc = {call, acc.first, pos_ - 1};
      } else {
        return acc;
      }
    }
  }
  Spanned primary() {
    size_t first = pos_, ty = type(0);
    switch (ty) {
    case DPLLexer::INT: case DPLLexer::FLOAT: case DPLLexer::DURATION: case DPLLexer::PERCENT:
    case DPLLexer::TIME: case DPLLexer::STRING:
      ++pos_;
      return {literal(toks_[first]), first, first};
    default: break;
    }
    if (ty == t_.true_ || ty == t_.false_) {
      ++pos_;
      auto *e = b_.ctx_.make<ast::BoolExpr>(range(first));
      e->value = ty == t_.true_;
      return {e, first, first};
    }
    if (isIdent(0)) {
      ast::Name n = ident();
      auto *e = b_.ctx_.make<ast::NameExpr>(n.range);
      e->name = std::move(n.text);
      return {e, first, first};
    }
    if (accept(t_.lparen)) {
      ast::Expr *inner = expr().expr;
      take(t_.rparen);
      return {inner, first, pos_ - 1};
    }
    if (ty == t_.lbracket) {
      auto *list = b_.ctx_.make<ast::ListExpr>(llvm::SMRange());
      commaList(t_.lbracket, t_.rbracket, [&] { list->elements.push_back(value().expr); });
      list->range = range(first, pos_ - 1);
      return {list, first, pos_ - 1};
    }
    if (ty == t_.lbrace) {
      auto *map = b_.ctx_.make<ast::MapExpr>(llvm::SMRange());
      commaList(t_.lbrace, t_.rbrace, [&] {
        ast::MapEntry entry;
        if (type(0) == DPLLexer::STRING) {
          ast::StringExpr *s = b_.buildString(toks_[pos_++]);
          entry.key = {s->value, s->range};
        } else {
          entry.key = ident();
        }
        if (!accept(t_.colon))
          take(t_.assign);
        entry.value = value().expr;
        map->entries.push_back(std::move(entry));
      });
      map->range = range(first, pos_ - 1);
      return {map, first, pos_ - 1};
    }
    abandon();
  }
  /// A literal token, converted by ASTBuilder; one it would diagnose sets
  /// the dry-run flag, which abandons the chunk at its end.
  ast::Expr *literal(antlr4::Token *t) { return b_.buildLiteralToken(t); }

  ASTBuilder &b_;
  const LiteralTypes &t_;
  const std::vector<antlr4::Token *> &toks_;
  const std::vector<size_t> &types_;
  size_t pos_ = 0;
};

/// Silences ANTLR's default console output.
class NullErrorListener : public antlr4::BaseErrorListener {};

/// ANTLR's input stream, filled without the runtime's general UTF-8 →
/// UTF-32 conversion when the text is ASCII (policy files nearly always
/// are): that conversion copies the text into a std::string first and was
/// about 5 % of the parse. Other text goes through ANTLR's own load(), so
/// what the lexer sees is the same either way.
class SourceInputStream : public antlr4::ANTLRInputStream {
public:
  SourceInputStream(llvm::StringRef text, bool ascii) : text_(text), ascii_(ascii) {}

  /// Fills ANTLR's buffer. Only ANTLR's lexer and parser (and the text of
  /// their tokens) read it: a file that the hand-written lexer and parser
  /// take entirely never needs it, and the conversion is skipped.
  void ensureLoaded() {
    if (loaded_)
      return;
    loaded_ = true;
    if (!ascii_) {
      load(text_.str());
      return;
    }
    _data.resize(text_.size());
    for (size_t i = 0; i < text_.size(); ++i)
      _data[i] = static_cast<unsigned char>(text_[i]);
    p = 0;
  }

private:
  llvm::StringRef text_;
  bool ascii_;
  bool loaded_ = false;
};

/// The file's token stream, filled either by its lexer (fill()) or with
/// tokens lexed beforehand and owned elsewhere (borrow()), numbered as
/// fill() numbers them.
class FileTokenStream : public antlr4::CommonTokenStream {
public:
  explicit FileTokenStream(antlr4::TokenSource *source) : CommonTokenStream(source) {}
  ~FileTokenStream() override {
    if (borrowed_)
      for (auto &t : _tokens)
        (void)t.release();
  }
  void borrow(const std::vector<antlr4::Token *> &tokens) {
    borrowed_ = true;
    _tokens.reserve(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) {
      static_cast<antlr4::CommonToken *>(tokens[i])->setTokenIndex(i);
      _tokens.emplace_back(tokens[i]);
    }
    _fetchedEOF = true;
    setup();
  }

private:
  bool borrowed_ = false;
};

/// A token stream over one chunk of the file's tokens, borrowed from the
/// file's stream instead of copied (copying every token of every chunk was
/// about 5 % of the parse). It is a
/// CommonTokenStream so channel filtering and look-behind behave exactly as
/// they did over a copy; its tokens are renumbered from 0 for the chunk, as
/// a stream over a copy numbered them, since the error strategy and the
/// recovery rely on token indices matching stream positions. That overwrites
/// the file tokens' own indices, which nothing reads after the scans.
class ChunkTokenStream : public antlr4::CommonTokenStream {
public:
  explicit ChunkTokenStream(antlr4::TokenSource *source) : CommonTokenStream(source) {}
  ~ChunkTokenStream() override { releaseTokens(); }

  /// Serves tokens [from, to) of `file`, then `eof` (owned by the caller).
  void assign(antlr4::CommonTokenStream &file, size_t from, size_t to, antlr4::CommonToken *eof) {
    releaseTokens();
    _tokens.reserve(to - from + 1);
    for (size_t i = from; i < to; ++i) {
      // The lexer's factory makes CommonTokens.
      auto *t = static_cast<antlr4::CommonToken *>(file.get(i));
      t->setTokenIndex(i - from);
      _tokens.emplace_back(t);
    }
    eof->setTokenIndex(to - from);
    _tokens.emplace_back(eof);
    _fetchedEOF = true;
    setup(); // positions the stream at its first on-channel token, as fill() did
  }

private:
  /// The tokens belong to the file's stream (and the chunk's EOF to the
  /// caller): let go of them without deleting.
  void releaseTokens() {
    for (auto &t : _tokens)
      (void)t.release();
    _tokens.clear();
  }
};

} // namespace

ast::SourceFile *parseFile(unsigned buffer, std::string relPath, bool isStdlib,
                           ast::ASTContext &ctx, DiagnosticEngine &diags,
                           const ParseOptions &options) {
  auto file = std::make_unique<ast::SourceFile>();
  file->buffer = buffer;
  file->relPath = std::move(relPath);
  file->isStdlib = isStdlib;
  ast::SourceFile *out = file.get();
  ctx.files.push_back(std::move(file));

  llvm::StringRef text = diags.sources().text(buffer);
  // A UTF-8 byte order mark is not part of the program; ANTLR would drop it
  // silently and shift every offset, so skip it here and account for it.
  llvm::StringRef program = text;
  size_t bom = program.consume_front("\xEF\xBB\xBF") ? 3 : 0;
  OffsetMap offsets(program, bom);
  auto locAt = [&](size_t cp) { return llvm::SMLoc::getFromPointer(text.data() + offsets.byteOf(cp)); };

  SourceInputStream input(program, offsets.ascii());
  DPLLexer lexer(&input);
  NullErrorListener quiet;
  lexer.removeErrorListeners();
  lexer.addErrorListener(&quiet);
  LexedTokens lexed; // before `tokens`, which borrows them
  FileTokenStream tokens(&lexer);
  // The hand-written lexer gives the same tokens for plain ASCII policy,
  // much faster; anything it does not handle goes through ANTLR's.
  if (options.fastPaths && offsets.ascii() && fastLex(program, lexer, input, lexed)) {
    tokens.borrow(lexed.tokens);
  } else {
    input.ensureLoaded();
    tokens.fill();
  }
  const std::vector<uint16_t> &classes = tokenClasses(lexer.getVocabulary());

  // Lexical problems and nesting depth, before the parser sees anything.
  unsigned depth = 0, prefixRun = 0, chain = 0, memberRun = 0;
  // Type arguments (`list<map<string, int>>`) nest too, in the declarations
  // that have types; elsewhere `<` and `>` are comparisons.
  unsigned angles = 0;
  bool inTypeDecl = false;
  // Calls in one postfix chain (`f()()()`, `a.b().c()`), per bracket depth:
  // the arguments are deeper, so they neither count nor end the chain.
  std::vector<unsigned> callRun(1, 0);
  // Prefix operators pending at each bracket depth (`not not (not …`):
  // they nest around what the bracket holds, so the guard adds them all to
  // the bracket depth (a run of 99 inside each of 99 brackets is ~10 000
  // levels of AST, which the checker recurses through).
  std::vector<unsigned> prefixAt(1, 0);
  unsigned prefixTotal = 0;
  size_t prevType = antlr4::Token::INVALID_TYPE;
  uint16_t prevClass = 0;
  bool tooDeep = false;
  antlr4::Token *lastBad = nullptr;
  for (antlr4::Token *t : tokens.getTokens()) {
    size_t type = t->getType();
    if (type == DPLLexer::BAD_CHAR || type == DPLLexer::BAD_ONE) {
      // One diagnostic per run of adjacent bad characters.
      if (!lastBad || lastBad->getStopIndex() + 1 != t->getStartIndex())
        diags.report(DiagId::E103, llvm::SMRange(locAt(t->getStartIndex()), locAt(t->getStartIndex() + 1)),
                     printableChar(t->getText()));
      lastBad = t;
      out->parsedOk = false;
      continue;
    }
    if (type == DPLLexer::HASH_COMMENT) {
      diags.report(DiagId::E103, locAt(t->getStartIndex()), "#").hint(DiagId::N006);
      out->parsedOk = false;
      continue;
    }
    if (type == DPLLexer::UNTERMINATED_STRING) {
      diags.report(DiagId::E101, llvm::SMRange(locAt(t->getStartIndex()), locAt(t->getStopIndex() + 1)));
      out->parsedOk = false;
    }
    if (type == DPLLexer::UNTERMINATED_COMMENT) {
      diags.report(DiagId::E102, locAt(t->getStartIndex()));
      out->parsedOk = false;
      continue;
    }
    if (t->getChannel() != antlr4::Token::DEFAULT_CHANNEL)
      continue;
    uint16_t cls = type < classes.size() ? classes[type] : 0;
    if (depth == 0 && (cls & DeclKeyword)) {
      inTypeDecl = cls & TypeDeclKeyword;
      angles = 0;
    }
    if (inTypeDecl && (cls & AngleOpen))
      ++angles;
    else if (inTypeDecl && (cls & AngleClose) && angles)
      --angles;
    // A `(` right after an operand (a name, a literal, a closing bracket)
    // is a call on it.
    bool operand = (prevClass & (CloseBracket | NameKeyword | Operand)) || prevType == DPLLexer::IDENT ||
                   prevType == DPLLexer::INT || prevType == DPLLexer::FLOAT || prevType == DPLLexer::DURATION ||
                   prevType == DPLLexer::PERCENT || prevType == DPLLexer::TIME || prevType == DPLLexer::STRING;
    bool call = (cls & LeftParen) && operand;
    if (call)
      ++callRun[depth];
    else if (!(cls & (Dot | CloseBracket | NameKeyword)) && type != DPLLexer::IDENT)
      callRun[depth] = 0;
    unsigned callsHere = callRun[depth];
    if (cls & PrefixOp) {
      ++prefixAt[depth];
      ++prefixTotal;
    } else if (!(cls & OpenBracket)) {
      prefixTotal -= prefixAt[depth];
      prefixAt[depth] = 0;
    }
    if (cls & OpenBracket) {
      ++depth;
      if (callRun.size() <= depth) {
        callRun.resize(depth + 1, 0);
        prefixAt.resize(depth + 1, 0);
      }
      callRun[depth] = 0;
      prefixAt[depth] = 0;
    } else if (cls & CloseBracket) {
      depth = depth ? depth - 1 : 0;
    }
    prevType = type;
    prevClass = cls;
    prefixRun = (cls & PrefixOp) ? prefixRun + 1 : 0;
    // Operators since the last separator: the checker recurses along a chain.
    // Only operators that chain count (comparisons do not associate): binary
    // `or`/`and`/`+`/`-` in one expression, and `.` in one member chain.
    if (cls & Separator)
      chain = 0;
    if (cls & Dot)
      ++memberRun;
    else if (type != DPLLexer::IDENT && !(cls & NameKeyword))
      memberRun = 0;
    bool chained = cls & ChainOp;
    if (chained)
      ++chain;
    if ((chain > options.maxChain || memberRun > options.maxChain || callsHere > options.maxChain) &&
        (chained || (cls & Dot) || call) && !tooDeep) {
      diags.report(DiagId::E110, locAt(t->getStartIndex()), options.maxChain);
      tooDeep = true;
      out->parsedOk = false;
    }
    if (!tooDeep && (depth + angles + prefixTotal > options.maxNesting || prefixRun > options.maxNesting)) {
      diags.report(DiagId::E104, locAt(t->getStartIndex()), options.maxNesting);
      tooDeep = true;
      out->parsedOk = false;
    }
  }
  if (tooDeep)
    return out;

  // Parse one top-level chunk at a time: a chunk starts at a declaration
  // keyword outside any bracket. Each chunk gets its own two-stage parse, and
  // its parse tree is freed once converted, so memory stays proportional to
  // the largest declaration rather than the file (a 50 MB file stays small).
  std::vector<size_t> starts;
  {
    unsigned d = 0;
    uint16_t prevClass = 0;
    size_t n = tokens.size();
    for (size_t i = 0; i < n; ++i) {
      antlr4::Token *t = tokens.get(i);
      if (t->getChannel() != antlr4::Token::DEFAULT_CHANNEL || t->getType() == antlr4::Token::EOF)
        continue;
      size_t type = t->getType();
      uint16_t cls = type < classes.size() ? classes[type] : 0;
      if (cls & OpenBracket)
        ++d;
      else if ((cls & CloseBracket) && d)
        --d;
      bool declKeyword = cls & DeclKeyword;
      // A declaration keyword starts a chunk only where a declaration can
      // start: after `;` or `}` at depth 0 (`schema service {` is one chunk).
      bool boundary = declKeyword && type != DPLLexer::IDENT && (prevClass & SemiOrClose);
      // A declaration keyword in column 1 inside an unclosed block is almost
      // always a forgotten `}`: end the chunk there (one "expected `}`")
      // instead of reading the rest of the file as fields of the open block.
      if (boundary && d > 0 && t->getCharPositionInLine() == 0 && !(cls & OpenBracket)) {
        d = 0;
      }
      if (starts.empty() || (d == 0 && boundary))
        starts.push_back(i);
      prevClass = cls;
    }
  }
  ASTBuilder builder(ctx, diags, text, offsets);
  static const LiteralTypes literalTypes(lexer.getVocabulary());
  std::vector<antlr4::Token *> onChannel; // the fast parser's input, per chunk
  std::vector<size_t> onChannelTypes;
  size_t eofIndex = tokens.size() - 1;
  for (size_t c = 0; c < starts.size(); ++c) {
    size_t from = starts[c], to = c + 1 < starts.size() ? starts[c + 1] : eofIndex;
    // The chunk's EOF sits where the next chunk begins, so "expected `}`"
    // points at the next declaration, not at the end of the file.
    antlr4::CommonToken eof(tokens.get(to));
    eof.setType(antlr4::Token::EOF);
    bool atRealEof = to == eofIndex;
    // A declaration without syntax errors: the hand-written parser builds
    // its AST directly. Anything else goes through ANTLR below.
    if (options.fastPaths) {
      onChannel.clear();
      onChannelTypes.clear();
      for (size_t i = from; i < to; ++i)
        if (antlr4::Token *t = tokens.get(i); t->getChannel() == antlr4::Token::DEFAULT_CHANNEL) {
          onChannel.push_back(t);
          onChannelTypes.push_back(t->getType());
        }
      onChannel.push_back(&eof);
      onChannelTypes.push_back(antlr4::Token::EOF);
      if (FastParser(builder, literalTypes, onChannel, onChannelTypes).parseFile(out->decls))
        continue;
    }
    input.ensureLoaded(); // ANTLR's parser and its messages read token texts
    ChunkTokenStream chunkTokens(&lexer);
    chunkTokens.assign(tokens, from, to, &eof);

    DPLParser parser(&chunkTokens);
    parser.removeErrorListeners();
    parser.addErrorListener(&quiet);
    // Stage 1: SLL prediction, bail out at the first error.
    parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(
        antlr4::atn::PredictionMode::SLL);
    parser.setErrorHandler(std::make_shared<antlr4::BailErrorStrategy>());
    DPLParser::FileContext *tree = nullptr;
    try {
      tree = parser.file();
    } catch (antlr4::ParseCancellationException &) {
      tree = nullptr;
    }
    if (!tree) {
      // Stage 2: full LL with recovery and diagnostics.
      chunkTokens.seek(0);
      parser.reset();
      parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(
          antlr4::atn::PredictionMode::LL);
      auto strategy = std::make_shared<DiagErrorStrategy>(diags, text, offsets, atRealEof);
      // An unterminated string or comment already explains why this
      // declaration does not parse; recover silently instead of piling on.
      for (size_t i = from; i < to; ++i) {
        size_t type = tokens.get(i)->getType();
        if (type == DPLLexer::UNTERMINATED_STRING || type == DPLLexer::UNTERMINATED_COMMENT)
          strategy->silent = true;
      }
      parser.setErrorHandler(strategy);
      try {
        tree = parser.file();
      } catch (antlr4::RuntimeException &e) {
        diags.report(DiagId::E100, llvm::SMLoc::getFromPointer(text.data()),
                     std::string("cannot parse file: ") + e.what());
        out->parsedOk = false;
        continue;
      }
      if (strategy->reported || parser.getNumberOfSyntaxErrors() > 0)
        out->parsedOk = false;
    }
    builder.recovering = !out->parsedOk;
    builder.buildFile(tree, *out);
  }
  return out;
}

} // namespace dpl
