using System.Net;
using System.Net.Sockets;

namespace OrleansSessions.Testing;

/// <summary>
/// TCP ports for the silos, servers and collectors that tests start as child processes or listeners.
/// <list type="bullet">
/// <item>Taken from 12000-21999: below Linux's ephemeral range (32768-60999), where the kernel picks the local ports of
/// outgoing connections, so a parallel test's connection to PostgreSQL or to a silo cannot take a port between the
/// moment it is handed out here and the moment the child binds it; and below the ranges Orleans' TestCluster reserves
/// for its in-process silos (22300-29999) and gateways (40000-49999).</item>
/// <item>Never the same port twice in one test process, and checked free on the wildcard address.</item>
/// </list>
/// </summary>
public static class Ports
{
    private const int First = 12000;
    private const int Count = 10000;
    private static readonly Lock Gate = new();

    // Test processes that run at the same time start at different places in the range.
    private static long _next = (long)Environment.ProcessId * 7919 % Count;

    public static int Free()
    {
        lock (Gate)
        {
            for (var tried = 0; tried < Count; tried++)
            {
                var port = First + (int)(_next++ % Count);
                if (IsFree(port))
                {
                    return port;
                }
            }
        }
        throw new InvalidOperationException($"No free TCP port in {First}-{First + Count - 1}.");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Any, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
