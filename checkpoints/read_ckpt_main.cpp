// read_ckpt: inspects, converts and exports checkpoints and weight files.
// To add a subcommand: write checkpoints/ckpt_<name>.{h,cpp} exposing a
// CkptCommand (see ckpt_cli.h and ckpt_inspect.cpp) and list it here.
#include "checkpoints/ckpt_cli.h"
#include "checkpoints/ckpt_convert.h"
#include "checkpoints/ckpt_export_adapter.h"
#include "checkpoints/ckpt_inspect.h"

int main(int argc, char** argv) {
  return rd::run_ckpt_cli(argc, argv, {
                                          rd::kCkptInspect,
                                          rd::kCkptConsolidate,
                                          rd::kCkptReshard,
                                          rd::kCkptExportAdapter,
                                      });
}
