using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using OrleansSessions.Client.Security;
using OrleansSessions.SiloHost.Hosting;
using OrleansSessions.Testing;

namespace OrleansSessions.Silo.Tests;

/// <summary>Loading the files of scripts/dev-certs.sh, and which certificates the CA check accepts for which role.</summary>
public sealed class CertificateFilesTests
{
    private static readonly DevCertificates Certificates = DevCertificates.Instance;

    private static X509Certificate2Collection Ca => CertificateFiles.LoadAuthorities(Certificates.Ca);

    private static X509Certificate2 Load(string name) => CertificateFiles.LoadWithKey(Certificates.File($"{name}.pem"), Certificates.File($"{name}.key"));

    [Fact]
    public void A_certificate_loads_with_its_key_from_PEM_and_key_files_one_PEM_file_or_PKCS12()
    {
        var expected = X509CertificateLoader.LoadCertificateFromFile(Certificates.File("silo.pem")).Thumbprint;
        X509Certificate2[] loaded =
        [
            CertificateFiles.LoadWithKey(Certificates.File("silo.pem"), Certificates.File("silo.key")),
            CertificateFiles.LoadWithKey(Certificates.File("silo-with-key.pem")),
            CertificateFiles.LoadWithKey(Certificates.File("silo.pfx"), password: DevCertificates.PfxPassword),
        ];
        Assert.All(loaded, c =>
        {
            Assert.Equal(expected, c.Thumbprint);
            Assert.True(c.HasPrivateKey);
        });
    }

    [Fact]
    public void Unreadable_files_are_refused()
    {
        Assert.Throws<FileNotFoundException>(() => CertificateFiles.LoadWithKey(Certificates.File("missing.pem")));
        Assert.ThrowsAny<CryptographicException>(() => CertificateFiles.LoadWithKey(Certificates.File("silo.pem")));
        Assert.ThrowsAny<CryptographicException>(() => CertificateFiles.LoadWithKey(Certificates.File("silo.pfx"), password: "wrong"));
        Assert.ThrowsAny<CryptographicException>(() => CertificateFiles.LoadWithKey(Certificates.File("silo.pem"), Certificates.File("client.key")));
        Assert.ThrowsAny<CryptographicException>(() => CertificateFiles.LoadAuthorities(Certificates.File("silo.key")));
    }

    [Fact]
    public void A_silo_port_accepts_only_silo_certificates_of_the_configured_CA()
    {
        var validator = new CertificateAuthorityValidator(Ca, SiloTls.PeerUsages);
        Assert.True(validator.TryValidate(Load("silo"), null, out _));
        Assert.False(validator.TryValidate(Load("client"), null, out var clientReason));
        Assert.Contains("extended key usage", clientReason, StringComparison.Ordinal);
        Assert.False(validator.TryValidate(Load("other-silo"), null, out var otherReason));
        Assert.Equal("not issued by the configured CA", otherReason);
    }

    [Fact]
    public void A_gateway_accepts_client_certificates_of_the_configured_CA_only()
    {
        var validator = new CertificateAuthorityValidator(Ca, [CertificateAuthorityValidator.ClientAuthentication]);
        Assert.True(validator.TryValidate(Load("client"), null, out _));
        Assert.False(validator.TryValidate(Load("other-client"), null, out _));
        // Nor is another CA's own certificate.
        Assert.False(validator.TryValidate(X509CertificateLoader.LoadCertificateFromFile(Certificates.File("other-ca.pem")), null, out _));
    }

    [Fact]
    public void A_certificate_outside_its_validity_period_is_refused()
    {
        var client = Load("client");
        var later = new CertificateAuthorityValidator(Ca, [CertificateAuthorityValidator.ClientAuthentication], time: new FixedTime(client.NotAfter.AddDays(1)));
        Assert.False(later.TryValidate(client, null, out var reason));
        Assert.Contains("expired", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("silo.pem", "silo.key", null)]
    [InlineData("silo-with-key.pem", null, null)]
    [InlineData("silo.pfx", null, DevCertificates.PfxPassword)]
    public void The_silo_reads_its_certificate_from_each_supported_form(string certificate, string? key, string? password)
    {
        var read = SiloCertificates.Read(new HostSecurityOptions
        {
            Certificate = Certificates.File(certificate),
            CertificateKey = key is null ? "" : Certificates.File(key),
            CertificatePassword = password,
            CaCertificate = Certificates.Ca,
        });
        Assert.NotNull(read);
        Assert.True(read.Certificate.HasPrivateKey);
        Assert.Equal("CN=orleanssessions-silo", read.Certificate.Subject);
        Assert.Single(read.Authorities);
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
