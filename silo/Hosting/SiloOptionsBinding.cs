using System.Reflection;
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
        Register(services, section, validator);
        return Bind(configuration, section, validator);
    }

    /// <summary>Registers <typeparamref name="TOptions"/> bound to <paramref name="section"/> with <paramref name="validator"/> and ValidateOnStart.</summary>
    public static void Register<TOptions>(IServiceCollection services, string section, IValidateOptions<TOptions> validator)
        where TOptions : class
    {
        services.AddOptions<TOptions>().Configure<IConfiguration>((options, current) => BindNonBlank(current, section, options)).ValidateOnStart();
        services.AddSingleton(validator);
    }

    /// <summary>Binds <paramref name="section"/> onto a new <typeparamref name="TOptions"/> and validates it.</summary>
    /// <exception cref="SiloConfigurationException">A value cannot be converted or is out of range.</exception>
    public static TOptions Bind<TOptions>(IConfiguration configuration, string section, IConfigurationKeyValidator<TOptions> validator)
        where TOptions : class, new()
    {
        var failures = new List<string>();
        var options = Bind(configuration, section, validator, failures);
        if (failures.Count > 0)
        {
            throw new SiloConfigurationException("Invalid configuration: " + string.Join("; ", failures));
        }
        return options;
    }

    /// <summary>
    /// Binds <paramref name="section"/> onto a new <typeparamref name="TOptions"/> and validates it, adding what is wrong
    /// to <paramref name="failures"/> (so that the bad keys of several sections are reported together).
    /// </summary>
    public static TOptions Bind<TOptions>(IConfiguration configuration, string section, IConfigurationKeyValidator<TOptions> validator, List<string> failures)
        where TOptions : class, new()
    {
        ArgumentNullException.ThrowIfNull(failures);
        var options = new TOptions();
        try
        {
            BindNonBlank(configuration, section, options);
        }
        catch (InvalidOperationException ex) when (ConversionPattern().Match(ex.Message) is { Success: true } conversion)
        {
            failures.Add(validator.DescribeInvalid(conversion.Groups["key"].Value));
            return options;
        }
        var result = validator.Validate(Options.DefaultName, options);
        if (result.Failed)
        {
            failures.AddRange(result.Failures);
        }
        return options;
    }

    /// <summary>Binds <paramref name="section"/> onto a new <typeparamref name="TOptions"/> without validating it; the defaults when a value cannot be converted.</summary>
    public static TOptions BindOrDefault<TOptions>(IConfiguration configuration, string section)
        where TOptions : class, new()
    {
        var options = new TOptions();
        try
        {
            BindNonBlank(configuration, section, options);
            return options;
        }
        catch (InvalidOperationException)
        {
            return new TOptions();
        }
    }

    /// <summary>
    /// The options binder over <paramref name="section"/> without its blank values: a key set to nothing (e.g.
    /// <c>--Http:MaxConnections=</c>) keeps its default, as it always has, where the binder would fail to convert it.
    /// A text property takes its value as written (a token of spaces is refused by its validator, not passed over).
    /// A value of the section itself (<c>--Silo=</c>, as WebApplicationFactory passes its host settings) is no option.
    /// </summary>
    private static void BindNonBlank<TOptions>(IConfiguration configuration, string section, TOptions options)
        where TOptions : class
    {
        var values = configuration.GetSection(section).AsEnumerable()
            .Where(kv => kv.Value is not null && kv.Key.Length > section.Length
                && (!string.IsNullOrWhiteSpace(kv.Value) || IsText(typeof(TOptions), kv.Key[(section.Length + 1)..])));
        new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection(section).Bind(options);
    }

    private static bool IsText(Type options, string property)
        => options.GetProperty(property, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase)?.PropertyType == typeof(string);

    [GeneratedRegex(@"Failed to convert configuration value (?:'[^']*' )?at '(?<key>[^']+)'")]
    private static partial Regex ConversionPattern();
}
