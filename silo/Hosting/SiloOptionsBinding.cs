using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>A validator of options bound from configuration that can also describe a value the binder could not convert.</summary>
internal interface IConfigurationKeyValidator<TOptions> : IValidateOptions<TOptions>
    where TOptions : class
{
    /// <summary>The one-line message for <paramref name="key"/> when its value cannot be converted (the same as for a value out of range).</summary>
    string DescribeInvalid(string key);
}

/// <summary>
/// Binds the silo host's options from configuration with the options binder (blank values keep their defaults), and checks them with their validators:
/// eagerly, for what must be known before the host is built (Kestrel's limits, the connection caps), and again at start
/// (<c>ValidateOnStart</c>), as the grains' options are. A bad value stops the start with one line naming its key.
/// </summary>
internal static partial class SiloOptionsBinding
{
    /// <summary>
    /// Registers <typeparamref name="TOptions"/> bound to <paramref name="section"/> with <paramref name="validator"/> and
    /// ValidateOnStart, and returns it bound and validated now.
    /// </summary>
    /// <exception cref="SiloConfigurationException">A value cannot be converted or is out of range.</exception>
    public static TOptions AddValidated<TOptions>(IServiceCollection services, IConfiguration configuration, string section, IConfigurationKeyValidator<TOptions> validator)
        where TOptions : class, new()
    {
        services.AddOptions<TOptions>().Configure<IConfiguration>((options, current) => BindNonBlank(current, section, options)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<TOptions>>(validator);
        return Bind(configuration, section, validator);
    }

    /// <summary>Binds <paramref name="section"/> onto a new <typeparamref name="TOptions"/> and validates it.</summary>
    /// <exception cref="SiloConfigurationException">A value cannot be converted or is out of range.</exception>
    public static TOptions Bind<TOptions>(IConfiguration configuration, string section, IConfigurationKeyValidator<TOptions> validator)
        where TOptions : class, new()
    {
        TOptions options;
        try
        {
            options = new TOptions();
            BindNonBlank(configuration, section, options);
        }
        catch (InvalidOperationException ex) when (ConversionPattern().Match(ex.Message) is { Success: true } conversion)
        {
            throw new SiloConfigurationException("Invalid configuration: " + validator.DescribeInvalid(conversion.Groups["key"].Value), ex);
        }
        var result = validator.Validate(Options.DefaultName, options);
        if (result.Failed)
        {
            throw new SiloConfigurationException("Invalid configuration: " + string.Join("; ", result.Failures));
        }
        return options;
    }

    /// <summary>
    /// The options binder over <paramref name="section"/> without its blank values: a key set to nothing (e.g.
    /// <c>--Http:MaxConnections=</c>) keeps its default, as it always has, where the binder would fail to convert it.
    /// </summary>
    private static void BindNonBlank<TOptions>(IConfiguration configuration, string section, TOptions options)
        where TOptions : class
    {
        var values = configuration.GetSection(section).AsEnumerable().Where(kv => !string.IsNullOrWhiteSpace(kv.Value));
        new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection(section).Bind(options);
    }

    [GeneratedRegex(@"Failed to convert configuration value (?:'[^']*' )?at '(?<key>[^']+)'")]
    private static partial Regex ConversionPattern();
}
