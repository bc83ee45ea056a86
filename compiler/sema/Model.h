// The checked program: stdlib signatures plus every policy declaration,
// resolved to its owner. Input to the merge phase.
#pragma once

#include "compiler/ast/AST.h"
#include "compiler/sema/Types.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace dpl {

/// Signatures loaded from stdlib/*.dpl.
struct Stdlib {
  mutable TypeContext types; ///< interning only; logically const
  std::map<std::string, std::unique_ptr<EnumSig>> enums;
  std::map<std::string, std::unique_ptr<RecordSig>> records;   ///< by kind name
  std::map<std::string, std::vector<const RecordSig *>> families;
  std::map<std::string, std::unique_ptr<GuardSig>> guards;
  std::map<std::string, std::unique_ptr<RecordSig>> schemas;   ///< stakeholder, environment, service

  const RecordSig *schema(llvm::StringRef name) const {
    auto it = schemas.find(name.str());
    return it == schemas.end() ? nullptr : it->second.get();
  }
  const GuardSig *guard(llvm::StringRef name) const {
    auto it = guards.find(name.str());
    return it == guards.end() ? nullptr : it->second.get();
  }
  const RecordSig *record(llvm::StringRef name) const {
    auto it = records.find(name.str());
    return it == records.end() ? nullptr : it->second.get();
  }
};

struct StakeholderInfo {
  const ast::BlockDecl *decl = nullptr;
  std::string name;
  std::vector<std::string> paths;     ///< globs over root-relative paths
  std::vector<std::string> may;       ///< capabilities
  std::vector<std::string> services;  ///< service-name globs
  /// False when `paths` / `services` are not a list of strings (already an
  /// error): ownership checks against them are skipped, not guessed.
  bool pathsKnown = true;
  bool servicesKnown = true;
  bool can(llvm::StringRef capability) const;
};

/// A declaration together with the file and stakeholder it came from.
struct Owned {
  const ast::SourceFile *file = nullptr;
  const StakeholderInfo *owner = nullptr; ///< null when the file's owner is invalid
};

struct GroupInfo : Owned {
  const ast::GroupDecl *decl = nullptr;
  std::vector<std::string> members;
};
struct EnvironmentInfo : Owned {
  const ast::BlockDecl *decl = nullptr;
  std::vector<std::string> after;
};
struct ServiceInfo : Owned {
  const ast::BlockDecl *decl = nullptr;
  std::vector<std::string> dependsOn;
};
struct RuleInfo : Owned {
  const ast::BlockDecl *decl = nullptr;
  const ast::Expr *when = nullptr; ///< null: applies to every unit
};
struct DefaultsInfo : Owned {
  const ast::BlockDecl *decl = nullptr;
};

struct Model {
  const Stdlib *stdlib = nullptr;
  std::vector<std::unique_ptr<StakeholderInfo>> stakeholders;
  std::vector<GroupInfo> groups;
  std::vector<EnvironmentInfo> environments;
  std::vector<ServiceInfo> services;
  std::vector<RuleInfo> rules;
  std::vector<DefaultsInfo> defaults;

  /// Name → index into the vectors above (first declaration wins).
  std::map<std::string, size_t, std::less<>> stakeholderIndex, groupIndex, environmentIndex,
      serviceIndex, ruleIndex;

  const StakeholderInfo *stakeholder(llvm::StringRef name) const;
  const EnvironmentInfo *environment(llvm::StringRef name) const;
  const ServiceInfo *service(llvm::StringRef name) const;
  const GroupInfo *group(llvm::StringRef name) const;
};

class DiagnosticEngine;

/// Builds stdlib signatures from parsed stdlib files. Errors in the stdlib
/// itself are reported like any other diagnostic.
std::unique_ptr<Stdlib> loadStdlib(const std::vector<const ast::SourceFile *> &files,
                                   DiagnosticEngine &diags);

/// Resolve, authority and type checks over the policy files. Always returns
/// a model (possibly partial); errors go to `diags`.
std::unique_ptr<Model> checkProgram(const std::vector<const ast::SourceFile *> &files,
                                    const Stdlib &stdlib, DiagnosticEngine &diags);

/// Glob match for `paths` and `services`: `*` within one path segment,
/// `**` across segments, `?` one character, `[...]` classes.
bool globMatch(llvm::StringRef pattern, llvm::StringRef text);
/// Why `pattern` is not a valid glob, or "" when it is.
std::string globProblem(llvm::StringRef pattern);

} // namespace dpl
