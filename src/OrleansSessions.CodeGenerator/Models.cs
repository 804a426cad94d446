using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;

namespace OrleansSessions.CodeGenerator
{
    /// <summary>An immutable array with value equality, so pipeline models cache across edits.</summary>
    internal readonly struct EquatableArray<T> : IEquatable<EquatableArray<T>>, IEnumerable<T>
        where T : IEquatable<T>
    {
        private readonly T[]? _items;

        public EquatableArray(T[] items) => _items = items;

        public EquatableArray(List<T> items) => _items = items.ToArray();

        public int Count => _items?.Length ?? 0;

        public T this[int index] => _items![index];

        public bool Equals(EquatableArray<T> other)
        {
            var a = _items ?? Array.Empty<T>();
            var b = other._items ?? Array.Empty<T>();
            if (a.Length != b.Length)
            {
                return false;
            }
            for (var i = 0; i < a.Length; i++)
            {
                if (!a[i].Equals(b[i]))
                {
                    return false;
                }
            }
            return true;
        }

        public override bool Equals(object? obj) => obj is EquatableArray<T> other && Equals(other);

        public override int GetHashCode()
        {
            var hash = 17;
            foreach (var item in _items ?? Array.Empty<T>())
            {
                hash = unchecked(hash * 31 + item.GetHashCode());
            }
            return hash;
        }

        public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)(_items ?? Array.Empty<T>())).GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>A diagnostic to report from the output stage (locations of source trees compare by value).</summary>
    internal sealed record DiagnosticInfo(DiagnosticDescriptor Descriptor, Location? Location, string Arg0, string Arg1, string Arg2)
    {
        public Diagnostic ToDiagnostic() => Diagnostic.Create(Descriptor, Location, Arg0, Arg1, Arg2);
    }

    internal enum ReturnKind
    {
        Task,
        TaskOfT,
        ValueTask,
        ValueTaskOfT,
    }

    internal sealed record ParameterModel(
        string Name,
        string AnnotatedType,
        string CodecType,
        bool IsReferenceType);

    internal sealed record MethodModel(
        string Name,
        string DeclaringInterface,
        ReturnKind ReturnKind,
        string ReturnType,
        string ResultType,
        bool OneWay,
        bool AlwaysInterleave,
        EquatableArray<ParameterModel> Parameters);

    internal sealed record InterfaceModel(
        string FullyQualifiedName,
        string MetadataFullName,
        string BaseName,
        EquatableArray<MethodModel> Methods,
        EquatableArray<DiagnosticInfo> Diagnostics)
    {
        public bool HasErrors => Diagnostics.Count > 0;
    }

    internal sealed record MemberModel(
        string Name,
        string CodecType,
        bool IsReferenceType,
        int ConstructorPosition,
        bool InInitializer);

    internal sealed record SerializerModel(
        string FullyQualifiedName,
        string MetadataFullName,
        string BaseName,
        bool IsValueType,
        int ConstructorParameterCount,
        EquatableArray<MemberModel> Members,
        EquatableArray<DiagnosticInfo> Diagnostics)
    {
        public bool HasErrors => Diagnostics.Count > 0;
    }
}

namespace System.Runtime.CompilerServices
{
    /// <summary>Enables records and init accessors on netstandard2.0.</summary>
    internal static class IsExternalInit
    {
    }
}
