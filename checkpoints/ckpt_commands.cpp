#include "checkpoints/ckpt_commands.h"

#include "checkpoints/ckpt_convert.h"
#include "checkpoints/ckpt_export_adapter.h"
#include "checkpoints/ckpt_export_hf.h"
#include "checkpoints/ckpt_import.h"
#include "checkpoints/ckpt_inspect.h"

namespace rd {

const std::vector<CkptCommand>& ckpt_commands() {
  static const std::vector<CkptCommand> commands = {kCkptInspect,      kCkptConsolidate, kCkptReshard,
                                                    kCkptExportAdapter, kCkptExportHf,    kCkptImport};
  return commands;
}

}  // namespace rd
