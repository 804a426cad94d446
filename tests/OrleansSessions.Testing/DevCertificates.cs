using System.Diagnostics;

namespace OrleansSessions.Testing;

/// <summary>
/// The certificates of scripts/dev-certs.sh (a local CA, silo and client certificates, and a second CA with its own
/// certificates), made once per test process in a directory of the machine's temp folder. The script is idempotent
/// and takes a lock, so test processes running side by side share the files.
/// </summary>
public sealed class DevCertificates
{
    private static readonly Lazy<DevCertificates> Shared = new(() => Make(Path.Combine(Path.GetTempPath(), "orleanssessions-test-certs")));

    private DevCertificates(string directory) => Directory = directory;

    /// <summary>The certificates of this test process.</summary>
    public static DevCertificates Instance => Shared.Value;

    /// <summary>The password of silo.pfx (the script's default).</summary>
    public const string PfxPassword = "orleanssessions";

    public string Directory { get; }

    /// <summary>The full path of a file the script makes, e.g. "ca.pem".</summary>
    public string File(string name) => Path.Combine(Directory, name);

    public string Ca => File("ca.pem");

    public string OtherCa => File("other-ca.pem");

    /// <summary>The silo settings of TLS with the dev CA, without "--": Security:Certificate, Security:CertificateKey, Security:CaCertificate.</summary>
    public IReadOnlyDictionary<string, string> SiloSettings => new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["Security:Certificate"] = File("silo.pem"),
        ["Security:CertificateKey"] = File("silo.key"),
        ["Security:CaCertificate"] = Ca,
    };

    /// <summary>Runs scripts/dev-certs.sh into <paramref name="directory"/>.</summary>
    public static DevCertificates Make(string directory)
    {
        var script = Path.Combine(RepositoryRoot(), "scripts", "dev-certs.sh");
        var info = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(script);
        info.ArgumentList.Add(directory);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start bash.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{script} did not finish within 60 s");
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} {directory} failed with {process.ExitCode}: {stdout.Result} {stderr.Result}");
        }
        return new DevCertificates(directory);
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !System.IO.File.Exists(Path.Combine(directory.FullName, "OrleansSessions.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("OrleansSessions.sln not found above " + AppContext.BaseDirectory);
    }
}
