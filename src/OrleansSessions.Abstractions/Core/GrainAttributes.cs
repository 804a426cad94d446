namespace OrleansSessions;

/// <summary>The caller does not wait for this method: the call returns once it is sent. The method must return Task or ValueTask.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class OneWayAttribute : Attribute;

/// <summary>This method may run while another turn of the activation is awaiting; it must only read state.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class AlwaysInterleaveAttribute : Attribute;

/// <summary>Generates a binary codec for this type. Serialized members are its public properties in declaration order.</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct)]
public sealed class GenerateSerializerAttribute : Attribute;
