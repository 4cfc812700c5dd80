// read_trainer CONFIG [--set key.path=value ...] [--plan [--world-size N]]
//
//   mpirun -np 4 read_trainer configs/read13b.yaml
//
// MPI data-parallel training of READ with ZeRO sharding. Every rank validates
// the configuration before any heavy work; an error on any rank ends the job
// with the reason (sharding/mpi_session.h), never a hang.
#include <gflags/gflags.h>

#include <cstdlib>
#include <iostream>
#include <thread>

#include "common/command_line.h"
#include "common/logging.h"
#include "sharding/make_communicator.h"
#include "sharding/mpi_session.h"
#include "trainer/memory_plan.h"
#include "trainer/trainer.h"

DEFINE_bool(plan, false, "print parameter counts and per-rank memory for the config, then exit");
DEFINE_int32(world_size, 0, "with --plan: the number of ranks to plan for (default: this job's)");

int main(int argc, char** argv) {
  // --set key=value may repeat: collect it before gflags sees the arguments.
  std::vector<std::string> overrides;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--set" && i + 1 < argc) {
      overrides.push_back(argv[++i]);
    } else if (a.rfind("--set=", 0) == 0) {
      overrides.push_back(a.substr(6));
    } else {
      rest.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(rest.size());
  char** args = rest.data();
  rd::parse_command_line(
      "read_trainer CONFIG.yaml [--set key.path=value ...] [--plan [--world_size N]]\n"
      "Trains READ with MPI data parallelism and ZeRO sharding; launch with\n"
      "  mpirun -np N read_trainer configs/read7b.yaml",
      &n, &args);
  rd::MpiSession mpi(&n, &args);
  rd::init_logging(argv[0], mpi.rank(), mpi.world_size());
  return mpi.run([&] {
    if (n != 2) {
      std::cerr << gflags::ProgramUsage() << "\n";
      return 2;
    }
    const std::string path = args[1];
    if (FLAGS_plan) {
      rd::TrainConfig c = rd::TrainConfig::load(path, overrides, /*check_paths=*/false);
      int world = FLAGS_world_size > 0 ? FLAGS_world_size : mpi.world_size();
      if (mpi.rank() == 0) std::cout << rd::plan_memory(c, world).describe();
      return 0;
    }
    rd::TrainConfig c = rd::TrainConfig::load(path, overrides);
    // The ranks on one host share its cores: without this each rank's intra-op
    // pool takes every core and they thrash. OMP_NUM_THREADS overrides.
    if (!std::getenv("OMP_NUM_THREADS")) {
      int cores = static_cast<int>(std::thread::hardware_concurrency());
      torch::set_num_threads(std::max(1, cores / std::max(1, mpi.local_size())));
    }
    LOG(INFO) << "rank " << mpi.rank() << ": " << torch::get_num_threads() << " compute thread(s)";
    LOG(INFO) << "read_trainer: " << path << " on " << mpi.world_size() << " rank(s)\n" << c.resolved;
    // One rank per GPU when this LibTorch has CUDA: local rank i takes GPU i.
    rd::CommunicatorOptions co;
    if (torch::cuda::is_available())
      co.device = torch::Device(torch::kCUDA, mpi.local_rank() % static_cast<int>(torch::cuda::device_count()));
    auto comm = rd::make_communicator(co);
    LOG(INFO) << "rank " << mpi.rank() << " computes on " << comm->device();
    rd::Trainer trainer(c, *comm);
    rd::SegmentationMetrics m = trainer.run();
    LOG(INFO) << "final validation: gIoU " << m.giou() << " cIoU " << m.ciou();
    return 0;
  });
}
