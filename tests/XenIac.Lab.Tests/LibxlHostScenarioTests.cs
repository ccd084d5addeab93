namespace XenIac.Lab.Tests;

/// <summary>
/// Scenario libxl-host (tests/lab/scenarios/40-libxl-host.sh): the hook for the libxl binding
/// (`xen-iac domain save/restore --host libxl`, another issue). Skips with the reason until `xen-iac domain` exists.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class LibxlHostScenarioTests(LabFixture lab)
{
    [SkippableFact]
    public void Libxl_host_saves_a_file_Xen_reads_and_restores_it()
    {
        var s = lab.Scenario("libxl-host");
        s.RequireOk("domain-save");
        s.RequireOk("domain-save.xen-verify");
        Assert.Contains("Domain Header: x86 HVM from Xen 4.17", s.Read("domain-save.xen-verify.out"));
        s.RequireOk("domain-restore");
        s.RequireOk("running");
    }
}
