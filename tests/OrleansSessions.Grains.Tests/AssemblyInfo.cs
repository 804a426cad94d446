// Each test starts its own multi-silo cluster with real-time failure detection; on a 2-core machine running
// them side by side makes probes time out and the ring change under the tests.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
