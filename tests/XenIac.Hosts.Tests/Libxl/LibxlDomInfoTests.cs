using XenIac.Hosts.Libxl;

namespace XenIac.Hosts.Tests.Libxl;

public sealed class LibxlDomInfoTests
{
    [Fact]
    public void Dominfo_maps_to_state_memory_and_vcpus_as_xl_list_shows_them()
    {
        var info = new LibxlDomInfo { DomId = 5, Blocked = 1, CurrentMemKb = 1000, OutstandingMemKb = 24, VcpuOnline = 2 };
        Assert.Equal(new DomainInfo("web", 5, DomainState.Blocked, 1024, 2), LibxlContext.ToDomainInfo(info, "web"));
    }

    [Theory]
    [InlineData(1, 0, 0, 0, 0, 0, DomainState.Dying)]
    [InlineData(0, 1, 3, 1, 0, 0, DomainState.Crashed)]
    [InlineData(0, 1, 0, 0, 0, 0, DomainState.ShutDown)]
    [InlineData(0, 0, 0, 1, 1, 0, DomainState.Paused)]
    [InlineData(0, 0, 0, 0, 1, 1, DomainState.Running)]
    [InlineData(0, 0, 0, 0, 0, 1, DomainState.Blocked)]
    [InlineData(0, 0, 0, 0, 0, 0, DomainState.Unknown)]
    public void State_follows_the_most_significant_flag(byte dying, byte shutdown, int reason, byte paused, byte running, byte blocked, DomainState expected)
    {
        var info = new LibxlDomInfo { Dying = dying, Shutdown = shutdown, ShutdownReason = reason, Paused = paused, Running = running, Blocked = blocked };
        Assert.Equal(expected, LibxlContext.ToDomainInfo(info, "d").State);
    }
}
