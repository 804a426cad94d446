using OrleansSessions.Benchmarks;
using OrleansSessions.Benchmarks.Infrastructure;
using OrleansSessions.Benchmarks.Measurements;

// Modes: one measurement per process (a clean heap and JIT state each), driven by bench/run.sh.
var mode = args.Length > 0 ? args[0] : "help";
var options = new Args(args.Skip(1));
ResultSink.Configure(options.Get("out") ?? Environment.GetEnvironmentVariable("BENCH_OUT"));
switch (mode)
{
    case "silo":
        return await SiloMode.RunAsync(args.Skip(1).ToArray());
    case "inproc":
        await InProcessThroughput.RunAsync(options);
        return 0;
    case "network":
        await NetworkThroughput.RunAsync(options);
        return 0;
    case "memory":
        await HeapPerSession.RunAsync(options);
        return 0;
    case "expiry":
        await ExpiryLag.RunAsync(options);
        return 0;
    case "janitor":
        await JanitorSweep.RunAsync(options);
        return 0;
    case "failover":
        await Failover.RunAsync(options);
        return 0;
    case "report":
        return Report.Run(options);
    case "micro":
        Micro.Run();
        return 0;
    default:
        Console.Error.WriteLine("usage: OrleansSessions.Benchmarks silo|inproc|network|memory|expiry|janitor|failover|report|micro [--name value ...]");
        return 2;
}
