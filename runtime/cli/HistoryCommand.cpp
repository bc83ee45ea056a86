// `deployd history [SERVICE | SERVICE@ENV]`: the decision journal, oldest
// first: every transition with its reason, and every person-initiated
// change with who.
#include "runtime/cli/Cli.h"

#include "runtime/control/Api.h"
#include "runtime/store/Store.h"

#include "common/CanonicalJson.h"

#include <llvm/Support/raw_ostream.h>

#include <filesystem>

namespace dpl::runtime::cli {

Runner setupHistory(CLI::App &sub, Globals &g) {
  auto filter = std::make_shared<std::string>();
  sub.add_option("UNIT", *filter, "A unit (SERVICE@ENV) or a service (SERVICE); all when omitted");
  return [&g, filter] {
    llvm::json::Array entries;
    if (controlListening(g.socketPath())) {
      llvm::json::Object r;
      if (int rc = callDaemon(g, "history", llvm::json::Object{{"unit", *filter}}, r); rc >= 0)
        return rc;
      if (llvm::json::Array *e = r.getArray("entries"))
        entries = std::move(*e);
    } else {
      std::unique_ptr<Store> store;
      if (int rc = openStoreReadOnly(g, store); rc >= 0)
        return rc;
      auto e = historyEntries(*store, *filter);
      if (!e)
        return fail(llvm::toString(e.takeError()));
      entries = std::move(*e);
    }
    if (g.output == "json") {
      llvm::outs() << prettyJson(llvm::json::Object{{"entries", std::move(entries)}}) << "\n";
      return int(ExitOk);
    }
    for (auto &v : entries) {
      const llvm::json::Object &o = *v.getAsObject();
      llvm::outs() << stamp(o.getInteger("at_ms").getValueOr(0)) << "  " << safe(o.getString("unit").getValueOr(""))
                   << "  " << safe(o.getString("release").getValueOr("")) << "  "
                   << safe(o.getString("from").getValueOr("")) << " → " << safe(o.getString("to").getValueOr(""))
                   << "  (" << safe(o.getString("why").getValueOr("")) << ")\n";
    }
    return int(ExitOk);
  };
}

} // namespace dpl::runtime::cli
