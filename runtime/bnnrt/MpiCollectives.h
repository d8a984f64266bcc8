//===- MpiCollectives.h - Collectives over MPI (libbnnrt_mpi) -------------===//
//
// Included only by plans built with `bnnc compile --mpi`, which link
// libbnnrt_mpi and Open MPI; this header itself needs no MPI headers.
//
//===----------------------------------------------------------------------===//
#ifndef BNNRT_MPICOLLECTIVES_H
#define BNNRT_MPICOLLECTIVES_H

#include "bnnrt/Collectives.h"

namespace bnnrt {

/// Initialises MPI (a process started without mpirun is a run of one) and
/// returns the processes of MPI_COMM_WORLD; MPI is finalised when the
/// result is destroyed.
std::unique_ptr<Collectives> openMpiCollectives();

} // namespace bnnrt

#endif // BNNRT_MPICOLLECTIVES_H
