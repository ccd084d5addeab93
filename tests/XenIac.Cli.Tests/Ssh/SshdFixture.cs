using XenIac.Tests;

namespace XenIac.Cli.Tests.Ssh;

/// <summary>One loopback sshd (<see cref="LoopbackSshd"/>) for the ssh:// host tests of a run.</summary>
public sealed class SshdFixture : IAsyncLifetime
{
    public LoopbackSshd Server { get; } = new();

    public Task InitializeAsync() => Server.StartAsync();

    public Task DisposeAsync() => Server.DisposeAsync().AsTask();
}

[CollectionDefinition(Name)]
public sealed class SshdCollection : ICollectionFixture<SshdFixture>
{
    public const string Name = "sshd";
}
