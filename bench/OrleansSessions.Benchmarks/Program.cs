using OrleansSessions.Benchmarks.Infrastructure;
using OrleansSessions.Benchmarks.Measurements;

// Modes: one measurement per process (a clean heap and JIT state each), driven by bench/run.sh. The process exits as
// soon as the measurement has written its figures, whatever its silos are still doing (see InProcessSilo.DisposeAsync).
var code = await RunAsync(args);
Console.Out.Flush();
Environment.Exit(code);
return code;

static async Task<int> RunAsync(string[] args)
{
    var mode = args.Length > 0 ? args[0] : "help";
    var options = new Args(args.Skip(1));
    ResultSink.Configure(options.Get("out") ?? Environment.GetEnvironmentVariable("BENCH_OUT"));
    switch (mode)
    {
        case "bare-silo":
            return await BareSiloMode.RunAsync(options);
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
        case "durable":
            await DurableThroughput.RunAsync(options);
            return 0;
        case "janitor":
            await JanitorSweep.RunAsync(options);
            return 0;
        case "users":
            await UserScale.RunAsync(options);
            return 0;
        case "failover":
            await Failover.RunAsync(options);
            return 0;
        case "append":
            await AppendThroughput.RunAsync(options);
            return 0;
        case "events":
            await EventLogThroughput.RunAsync(options);
            return 0;
        case "dormant":
            await DormantSessions.RunAsync(options);
            return 0;
        case "report":
            return Report.Run(options);
        default:
            Console.Error.WriteLine("usage: OrleansSessions.Benchmarks inproc|memory|expiry|network|durable|janitor|users|failover|append|events|dormant|report|bare-silo [--name value ...]");
            return 2;
    }
}
