using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OrleansSessions.Client.Security;

/// <summary>Loads the certificates of mutual TLS from files: a certificate with its private key, and the CA that issued the cluster's certificates.</summary>
public static class CertificateFiles
{
    /// <summary>
    /// Loads a certificate with its private key: a PKCS#12 file (<c>.pfx</c>, <c>.p12</c>) opened with
    /// <paramref name="password"/>, or a PEM certificate whose key is in <paramref name="keyPath"/> or, when that is
    /// null, in the same file (an encrypted PEM key is opened with <paramref name="password"/>). The result is a
    /// PKCS#12-backed certificate, which SslStream can use as a server certificate on every platform.
    /// </summary>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="CryptographicException">A file cannot be read (wrong format or password, no private key); the message says which.</exception>
    public static X509Certificate2 LoadWithKey(string path, string? keyPath = null, string? password = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        RequireFile(path);
        if (IsPkcs12(path))
        {
            var fromPfx = X509CertificateLoader.LoadPkcs12FromFile(path, string.IsNullOrEmpty(password) ? null : password, X509KeyStorageFlags.EphemeralKeySet);
            return fromPfx.HasPrivateKey ? fromPfx : throw new CryptographicException("the file holds no private key");
        }
        if (!string.IsNullOrEmpty(keyPath))
        {
            RequireFile(keyPath);
        }
        X509Certificate2 fromPem;
        try
        {
            fromPem = string.IsNullOrEmpty(password)
                ? X509Certificate2.CreateFromPemFile(path, string.IsNullOrEmpty(keyPath) ? null : keyPath)
                : X509Certificate2.CreateFromEncryptedPemFile(path, password, string.IsNullOrEmpty(keyPath) ? null : keyPath);
        }
        catch (ArgumentException ex)
        {
            // No PEM private key where one was expected.
            throw new CryptographicException(string.IsNullOrEmpty(keyPath) ? "no PEM private key in the file (give the key in the same file or separately)" : $"no PEM private key in '{keyPath}'", ex);
        }
        using (fromPem)
        {
            // A key loaded from PEM is ephemeral; SslStream needs a key it can hand to the TLS stack as a server.
            return X509CertificateLoader.LoadPkcs12(fromPem.Export(X509ContentType.Pkcs12), null, X509KeyStorageFlags.EphemeralKeySet);
        }
    }

    /// <summary>Loads the trusted CA certificate(s): a PEM file with one or more certificates, or one DER certificate.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="CryptographicException">The file holds no certificate.</exception>
    public static X509Certificate2Collection LoadAuthorities(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        RequireFile(path);
        var authorities = new X509Certificate2Collection();
        var text = File.ReadAllText(path);
        if (text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
        {
            authorities.ImportFromPem(text);
        }
        else
        {
            authorities.Add(X509CertificateLoader.LoadCertificateFromFile(path));
        }
        return authorities.Count > 0 ? authorities : throw new CryptographicException("the file holds no certificate");
    }

    private static bool IsPkcs12(string path)
        => path.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".p12", StringComparison.OrdinalIgnoreCase);

    private static void RequireFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"'{path}' does not exist", path);
        }
    }
}
