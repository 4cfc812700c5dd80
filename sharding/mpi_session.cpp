#include "sharding/mpi_session.h"

#include <mpi.h>

#include <cstdio>
#include <exception>

#include "common/error.h"
#include "common/logging.h"

namespace rd {
namespace {

std::terminate_handler previous_terminate = nullptr;

// An uncaught exception on one rank: say what it was, then end the job.
void terminate_aborts_job() {
  std::string why = "std::terminate";
  if (std::exception_ptr e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      why = std::string("uncaught exception: ") + ex.what();
    } catch (...) {
      why = "uncaught non-standard exception";
    }
  }
  abort_job(why, 1);
}

}  // namespace

void abort_job(const std::string& why, int code) {
  int rank = -1, initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  const bool live = initialized && !finalized;
  if (live) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  LOG(ERROR) << "rank " << rank << " aborts the job: " << why;
  google::FlushLogFiles(google::GLOG_INFO);
  std::fprintf(stderr, "rank %d aborts the job (code %d): %s\n", rank, code, why.c_str());
  std::fflush(stderr);
  if (live) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

MpiSession::MpiSession(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    READ_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) == MPI_SUCCESS,
               "MPI_Init_thread failed");
    owns_ = true;
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size_);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &local_rank_);
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_free(&local);
  if (owns_) previous_terminate = std::set_terminate(terminate_aborts_job);
}

MpiSession::~MpiSession() {
  if (!owns_) return;
  if (std::uncaught_exceptions() > 0) abort_job("MPI session left by an exception", 1);
  std::set_terminate(previous_terminate);
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

int MpiSession::run(const std::function<int()>& fn) {
  int code = 0;
  try {
    code = fn();
  } catch (const std::exception& e) {
    abort_job(e.what(), 1);
  } catch (...) {
    abort_job("non-standard exception", 1);
  }
  if (code != 0) abort_job("exit code " + std::to_string(code), code);
  return 0;
}

}  // namespace rd
