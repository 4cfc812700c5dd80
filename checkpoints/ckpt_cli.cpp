#include "checkpoints/ckpt_cli.h"

#include <gflags/gflags.h>

#include <algorithm>
#include <cstring>
#include <iostream>

#include "common/error.h"

namespace rd {
namespace {

void print_commands(const std::vector<CkptCommand>& commands) {
  std::cout << "usage: read_ckpt SUBCOMMAND [--flags] ARGS...\n\n"
               "Inspects, converts and exports checkpoints and weight files (safetensors,\n"
               "torch.save .pth/.bin, Hugging Face folders).\n\nsubcommands:\n";
  for (const auto& c : commands) {
    std::string head = std::string(c.name) + " " + c.args;
    std::cout << "  " << head << std::string(head.size() < 28 ? 28 - head.size() : 1, ' ') << c.summary << "\n";
  }
  std::cout << "\n`read_ckpt SUBCOMMAND --help` shows a subcommand's flags.\n";
}

bool flag_of(const gflags::CommandLineFlagInfo& f, const CkptCommand& c) {
  return f.filename == c.flags_file || (c.shared_flags_file && f.filename == c.shared_flags_file);
}

void print_help(const CkptCommand& c) {
  std::cout << "usage: read_ckpt " << c.name << " [--flags] " << c.args << "\n\n" << c.help << "\n";
  std::vector<gflags::CommandLineFlagInfo> flags;
  gflags::GetAllFlags(&flags);
  bool any = false;
  for (const auto& f : flags) {
    if (!flag_of(f, c)) continue;
    if (!any) std::cout << "\nflags:\n";
    any = true;
    std::cout << "  --" << f.name << " (" << f.type << ", default " << (f.default_value.empty() ? "\"\"" : f.default_value)
              << ")\n      " << f.description << "\n";
  }
}

int usage_error(const CkptCommand* c, const std::string& msg) {
  std::cerr << "read_ckpt" << (c ? std::string(" ") + c->name : "") << ": " << msg << "\n"
            << "try `read_ckpt" << (c ? std::string(" ") + c->name : "") << " --help`\n";
  return 2;
}

}  // namespace

int run_ckpt_cli(int argc, char** argv, const std::vector<CkptCommand>& commands) {
  if (argc < 2) {
    print_commands(commands);
    return 2;
  }
  std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_commands(commands);
    return 0;
  }
  const CkptCommand* cmd = nullptr;
  for (const auto& c : commands)
    if (name == c.name) cmd = &c;
  if (!cmd) return usage_error(nullptr, "unknown subcommand '" + name + "'");

  // Flag names may be spelt with dashes (--world-size == --world_size).
  std::vector<std::string> spelled(argv, argv + argc);
  for (int i = 2; i < argc; ++i) {
    std::string& a = spelled[i];
    if (a == "--") break;
    if (a.size() < 2 || a[0] != '-') continue;
    const size_t begin = a.find_first_not_of('-'), end = std::min(a.find('='), a.size());
    for (size_t k = begin; k < end; ++k)
      if (a[k] == '-') a[k] = '_';
    argv[i] = spelled[i].data();
  }
  // Every flag returns to its default afterwards (the CLI can be run more
  // than once in a process, e.g. by tests).
  gflags::FlagSaver restore_flags;

  std::vector<char*> rest = {argv[0]};
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--")) break;
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "-help")) {
      print_help(*cmd);
      return 0;
    }
  }
  // Every flag must exist and belong to this subcommand (checked here so
  // that a bad flag is a usage error, not gflags' own exit).
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") break;
    if (a.size() < 2 || a[0] != '-') continue;
    std::string flag = a.substr(a[1] == '-' ? 2 : 1);
    flag = flag.substr(0, flag.find('='));
    gflags::CommandLineFlagInfo info;
    bool known = gflags::GetCommandLineFlagInfo(flag.c_str(), &info);
    if (!known && flag.rfind("no", 0) == 0) {  // --nostats
      known = gflags::GetCommandLineFlagInfo(flag.substr(2).c_str(), &info) && info.type == "bool";
    }
    if (!known || !flag_of(info, *cmd))
      return usage_error(cmd, "unknown flag '" + a + "' (not a flag of " + cmd->name + ")");
  }
  for (int i = 2; i < argc; ++i) rest.push_back(argv[i]);
  int n = static_cast<int>(rest.size());
  char** v = rest.data();
  gflags::SetUsageMessage(std::string("read_ckpt ") + cmd->name + " [--flags] " + cmd->args);
  gflags::ParseCommandLineFlags(&n, &v, /*remove_flags=*/true);
  std::vector<std::string> args(v + 1, v + n);
  if (args.size() < cmd->min_args || args.size() > cmd->max_args)
    return usage_error(cmd, "expected " + std::string(cmd->args) + ", got " + std::to_string(args.size()) +
                                " argument(s)");
  try {
    return cmd->run(args);
  } catch (const Error& e) {
    std::cerr << "read_ckpt " << cmd->name << ": error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace rd
