// Test clusters share the machine's two cores; running them one at a time keeps timings far from the limits.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
