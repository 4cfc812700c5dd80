// gflags command lines for the programs. gflags' own --help lists every flag
// linked into the binary -- LibTorch's caffe2_* and glog's, ~250 lines --
// and exits 1, so parse_command_line() answers --help / -help / -h itself:
// the usage message and only the flags of the program's own
// <program>_main.cpp, exit status 0. --helpfull still lists everything.
#pragma once

namespace rd {

// gflags::SetUsageMessage(usage) + ParseCommandLineFlags(argc, argv,
// remove_flags = true), after answering --help as above.
void parse_command_line(const char* usage, int* argc, char*** argv);

}  // namespace rd
