#include "common/command_line.h"

#include <gflags/gflags.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace rd {

void parse_command_line(const char* usage, int* argc, char*** argv) {
  gflags::SetUsageMessage(usage);
  for (int i = 1; i < *argc; ++i) {
    const std::string a = (*argv)[i];
    if (a == "--") break;
    if (a == "--help" || a == "-help" || a == "-h" || a == "--helpshort") {
      // The flags defined in <program>_main.cpp (gflags' --helpshort rule);
      // exit 0 (gflags' own help exits 1).
      const std::string program = std::filesystem::path((*argv)[0]).filename().string();
      gflags::ShowUsageWithFlagsRestrict((*argv)[0], ("/" + program + "_main.").c_str());
      std::exit(0);
    }
  }
  gflags::ParseCommandLineFlags(argc, argv, /*remove_flags=*/true);
}

}  // namespace rd
