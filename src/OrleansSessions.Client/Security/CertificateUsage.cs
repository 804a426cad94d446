using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OrleansSessions.Client.Security;

/// <summary>What a certificate's extended key usage extension allows.</summary>
public static class CertificateUsage
{
    /// <summary>True when <paramref name="certificate"/> has no extended key usage extension (any use) or lists <paramref name="usage"/>.</summary>
    public static bool Allows(X509Certificate2 certificate, Oid usage)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(usage);
        var found = false;
        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509EnhancedKeyUsageExtension enhanced)
            {
                found = true;
                foreach (var oid in enhanced.EnhancedKeyUsages)
                {
                    if (oid.Value == usage.Value)
                    {
                        return true;
                    }
                }
            }
        }
        return !found;
    }
}
