using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using OrleansSessions.CodeGenerator;

namespace OrleansSessions.Serialization.Tests;

/// <summary>Runs <see cref="GrainCodeGenerator"/> with a <see cref="CSharpGeneratorDriver"/> on small sources.</summary>
public class GeneratorTests
{
    private static readonly ImmutableArray<MetadataReference> References = LoadReferences();

    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var builder = ImmutableArray.CreateBuilder<MetadataReference>();
        foreach (var path in paths)
        {
            if (path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            {
                builder.Add(MetadataReference.CreateFromFile(path));
            }
        }
        if (!paths.Contains(typeof(IGrain).Assembly.Location))
        {
            builder.Add(MetadataReference.CreateFromFile(typeof(IGrain).Assembly.Location));
        }
        return builder.ToImmutable();
    }

    private static (Compilation Output, ImmutableArray<Diagnostic> GeneratorDiagnostics, GeneratorDriverRunResult Result) Run(string source)
    {
        var compilation = CSharpCompilation.Create(
            "Generator.Test.Assembly",
            [CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest))],
            References,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        GeneratorDriver driver = CSharpGeneratorDriver.Create(new GrainCodeGenerator());
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        return (output, diagnostics, driver.GetRunResult());
    }

    private const string Usings = """
        using System;
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using OrleansSessions;

        """;

    [Fact]
    public void GrainMethodReturningInt_ReportsOSG001()
    {
        var (_, diagnostics, result) = Run(Usings + """
            namespace Sample;
            public interface IBadGrain : IGrainWithStringKey
            {
                int Get();
                Task<int> GoodAsync();
            }
            """);
        var diagnostic = Assert.Single(diagnostics);
        Assert.Equal("OSG001", diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Contains("Sample.IBadGrain.Get", diagnostic.GetMessage(), StringComparison.Ordinal);
        Assert.Contains("int", diagnostic.GetMessage(), StringComparison.Ordinal);
        Assert.True(diagnostic.Location.IsInSource);
        Assert.Equal("Get", diagnostic.Location.SourceTree!.GetText().ToString(diagnostic.Location.SourceSpan));
        // No proxy is generated for an invalid interface (so only the diagnostic is reported).
        Assert.DoesNotContain(result.GeneratedTrees, t => t.FilePath.Contains("IBadGrain", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Task RefAsync(ref int value);", "by reference")]
    [InlineData("Task OutAsync(out int value);", "by reference")]
    [InlineData("Task InAsync(in int value);", "by reference")]
    [InlineData("Task<T> GenericAsync<T>(T value);", "generic")]
    [InlineData("void Fire();", "returns void")]
    [InlineData("string Name();", "returns string")]
    [InlineData("IAsyncEnumerable<int> Stream();", "IAsyncEnumerable")]
    public void UnsupportedMethods_ReportOSG001(string method, string reason)
    {
        var (_, diagnostics, _) = Run(Usings + "namespace Sample; public interface IBadGrain : IGrainWithStringKey { " + method + " }");
        var diagnostic = Assert.Single(diagnostics);
        Assert.Equal("OSG001", diagnostic.Id);
        Assert.Contains(reason, diagnostic.GetMessage(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Task<int>")]
    [InlineData("ValueTask<string>")]
    public void OneWayReturningValue_ReportsOSG002(string returnType)
    {
        var (_, diagnostics, _) = Run(Usings + "namespace Sample; public interface IBadGrain : IGrainWithStringKey { [OneWay] " + returnType + " FireAsync(); }");
        var diagnostic = Assert.Single(diagnostics);
        Assert.Equal("OSG002", diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
    }

    [Fact]
    public void UnsupportedInterfacesAndTypes_ReportDiagnostics()
    {
        var (_, diagnostics, _) = Run(Usings + """
            namespace Sample;
            public interface IGenericGrain<T> : IGrainWithStringKey { Task<T> GetAsync(); }
            public interface IPropertyGrain : IGrainWithStringKey { int Value { get; } }
            public class Outer { private interface IHiddenGrain : IGrainWithStringKey { Task RunAsync(); } }
            [GenerateSerializer] public sealed class Generic<T> { public T? Value { get; set; } }
            [GenerateSerializer] public abstract class Abstract { public int Value { get; set; } }
            [GenerateSerializer] public sealed class NoCtor { public NoCtor(int other) { } public int Value { get; set; } }
            """);
        Assert.Equal(["OSG003", "OSG003", "OSG003", "OSG004", "OSG004", "OSG004"], diagnostics.Select(d => d.Id).Order().ToArray());
    }

    [Fact]
    public void ValidSources_CompileWithoutWarnings()
    {
        var (output, diagnostics, result) = Run(Usings + """
            #nullable enable
            namespace Sample
            {
                public interface IBase : IGrainWithStringKey { Task<int> BaseAsync(int @class); }
                public interface ILeft : IBase { Task LeftAsync(string? text); Task<string> SameAsync(); }
                public interface IRight : IBase { ValueTask RightAsync(); Task<string> SameAsync(); }
                public interface IDiamond : ILeft, IRight
                {
                    [OneWay, AlwaysInterleave] ValueTask FireAsync(IReadOnlyList<Payload?> items, Dictionary<string, List<int?>> map);
                    ValueTask<Payload?> GetAsync(Payload? p, int[]? values, (int A, string B) tuple);
                    Task<string> InvokeAsync(object request, int __request);
                    Task<bool> Equals(string other);
                }
                public static class Outer { public interface INestedGrain : IGrain { Task<Outer.Data> GetAsync(); } [GenerateSerializer] public sealed record Data(string Name, int? Age); }
                internal interface IInternalGrain : IGrainWithStringKey { Task RunAsync(); }
                [GenerateSerializer] public sealed class Payload { public required string Name { get; init; } public List<string?>? Tags { get; set; } public string Computed => Name; }
                [GenerateSerializer] public struct Point { public int X { get; set; } public int Y { get; init; } }
                [GenerateSerializer] public record class Derived(string Extra) : BaseRecord(1) { public string? More { get; set; } }
                public record class BaseRecord(int Id);
            }
            namespace Sample.Other
            {
                public interface IBase : IGrainWithStringKey { Task<int> BaseAsync(int value); }
                [GenerateSerializer] public sealed class Payload { public int Value { get; set; } }
            }
            """);
        Assert.Empty(diagnostics);
        var problems = output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToArray();
        Assert.True(problems.Length == 0, string.Join(Environment.NewLine, problems.Select(p => p.ToString())));

        var files = result.GeneratedTrees.Select(t => Path.GetFileName(t.FilePath)).Order(StringComparer.Ordinal).ToArray();
        Assert.Contains("IBase_Proxy.g.cs", files);
        Assert.Contains("IBase_Proxy_2.g.cs", files);
        Assert.Contains("Outer_INestedGrain_Proxy.g.cs", files);
        Assert.Contains("Payload_Codec.g.cs", files);
        Assert.Contains("Payload_Codec_2.g.cs", files);
        Assert.Contains("GeneratedCodeRegistration.g.cs", files);
        var diamond = result.GeneratedTrees.Single(t => t.FilePath.EndsWith("IDiamond_Proxy.g.cs", StringComparison.Ordinal)).GetText().ToString();
        // Flattened ids: IBase, ILeft, IRight (the shared base once), then IDiamond's own methods.
        Assert.Contains("class IDiamond_BaseAsync_Request_0 ", diamond, StringComparison.Ordinal);
        Assert.Contains("class IDiamond_LeftAsync_Request_1 ", diamond, StringComparison.Ordinal);
        Assert.Contains("class IDiamond_SameAsync_Request_2 ", diamond, StringComparison.Ordinal);
        Assert.Contains("class IDiamond_RightAsync_Request_3 ", diamond, StringComparison.Ordinal);
        Assert.Contains("class IDiamond_SameAsync_Request_4 ", diamond, StringComparison.Ordinal);
        Assert.Contains("class IDiamond_FireAsync_Request_5 ", diamond, StringComparison.Ordinal);
        Assert.Contains("namespace OrleansSessions.Generated.Generator_Test_Assembly", diamond, StringComparison.Ordinal);
        Assert.Contains("InvokeFlags.OneWay | global::OrleansSessions.Invocation.InvokeFlags.AlwaysInterleave", diamond, StringComparison.Ordinal);
        Assert.DoesNotContain("System.Linq", diamond, StringComparison.Ordinal);
        Assert.DoesNotContain("typeof(", diamond, StringComparison.Ordinal);
    }

    [Fact]
    public void Output_IsDeterministic()
    {
        const string source = Usings + """
            namespace Sample;
            public interface IA : IGrainWithStringKey { Task<int> A(int x); }
            public interface IB : IA { Task B(); }
            [GenerateSerializer] public sealed record R(int X);
            """;
        var first = Run(source).Result.GeneratedTrees.Select(t => t.GetText().ToString()).ToArray();
        var second = Run(source).Result.GeneratedTrees.Select(t => t.GetText().ToString()).ToArray();
        Assert.Equal(first, second);
    }

    [Fact]
    public void NoGrainTypes_GeneratesNothing()
    {
        var (_, diagnostics, result) = Run(Usings + "namespace Sample; public interface INotAGrain { Task RunAsync(); }");
        Assert.Empty(diagnostics);
        Assert.Empty(result.GeneratedTrees);
    }
}
